"""One sign-in event in, one up-to-date user record out: Graph first, then one database transaction."""

import logging

import asyncpg

from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import SealedTokenError, open_token
from kutamo_provisioning import avatars, users
from kutamo_provisioning.graph import GraphClient, Photo, TokenRefused
from kutamo_provisioning.seams import Clock

log = logging.getLogger(__name__)


class Provisioner:
    def __init__(self, pool: asyncpg.Pool, graph: GraphClient, sealing_key: bytes, clock: Clock) -> None:
        self._pool = pool
        self._graph = graph
        self._key = sealing_key
        self._clock = clock

    async def apply(self, event: UserSignedIn) -> users.Outcome:
        details, photo = await self._details(event)
        async with self._pool.acquire() as conn, conn.transaction():
            if photo is not None:
                details = users.Details(
                    name=details.name,
                    email=details.email,
                    title=details.title,
                    avatar_sha256=await avatars.store(conn, photo, self._clock()),
                    graph_known=True,
                )
            return await users.apply(conn, event, details, self._clock())

    async def _details(self, event: UserSignedIn) -> tuple[users.Details, Photo | None]:
        from_token = users.Details(name=event.name, email=event.email)
        token = self._open(event)
        if token is None:
            return from_token, None
        try:
            profile = await self._graph.profile(token)
            if profile.id != event.azure_oid:
                log.warning("graph profile is another person's, ignored", extra={"event_id": event.event_id})
                return from_token, None
            photo = await self._graph.photo(token)
        except TokenRefused:
            log.info("graph refused the token; using the id_token's claims", extra={"event_id": event.event_id})
            return from_token, None
        if photo is not None and not avatars.accepted(photo):
            log.warning("avatar is not an allowed image, skipped", extra={"content_type": photo.content_type})
            photo = None
        details = users.Details(
            name=profile.display_name or event.name,
            email=profile.mail or event.email or profile.user_principal_name,
            title=profile.job_title,
            graph_known=True,
        )
        return details, photo

    def _open(self, event: UserSignedIn) -> str | None:
        if event.sealed_graph_token is None:
            return None
        try:
            return open_token(self._key, event.event_id, event.sealed_graph_token, self._clock())
        except SealedTokenError as exc:
            log.info(
                "graph token not usable; using the id_token's claims",
                extra={"event_id": event.event_id, "why": str(exc)},
            )
            return None
