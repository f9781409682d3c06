"""What Microsoft Graph says about the person behind one sign-in, classified into Details.

No database here: the batch applies the Details in one transaction afterwards. Graph failures past
the retry bound raise GraphFailed (the event is dead-lettered); a refused or expired token, another
person's profile or a rejected photo are outcomes, recorded as "not refreshed" with their reason.
Anything else raised while the token is open becomes ProcessingFailed, its message scrubbed of the token.
"""

import logging

from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, SealedTokenError, SealingKeys, open_token
from kutamo_kit.seams import Clock
from kutamo_provisioning import avatars
from kutamo_provisioning.errors import ProcessingFailed, ProvisioningError
from kutamo_provisioning.graph import GraphClient, Photo, PhotoTooLarge, Profile, TokenRefused
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.users import Details

log = logging.getLogger(__name__)


def storable(text: str | None) -> str | None:
    """Text as PostgreSQL can store it: without NUL characters (the only ones it refuses)."""
    return text.replace("\x00", "") if text and "\x00" in text else text


def from_claims(event: UserSignedIn, reason: str) -> Details:
    """The id_token's claims only: title and avatar stay as they were, marked not refreshed."""
    return Details(
        name=storable(event.name), email=storable(event.email), not_refreshed_reason=reason,
        email_source=event.email_source if event.email else None,
        email_verified=bool(event.email and event.email_verified),
    )  # fmt: skip


def email_from_graph(profile: Profile, event: UserSignedIn) -> tuple[str | None, str | None, bool]:
    """(address, source, verified): Graph's `mail`, else the id_token's, else the user principal name.

    Graph's `mail` and user principal name are whatever the directory's admins set: never verified.
    """
    if profile.mail:
        return profile.mail, "graph_mail", False
    if event.email:
        return event.email, event.email_source, event.email_verified
    if profile.user_principal_name:
        return profile.user_principal_name, "graph_user_principal_name", False
    return None, None, False


class Provisioner:
    def __init__(self, graph: GraphClient, sealing_keys: SealingKeys, clock: Clock, metrics: Metrics) -> None:
        self._graph = graph
        self._keys = sealing_keys
        self._clock = clock
        self._metrics = metrics

    async def details(self, event: UserSignedIn) -> tuple[Details, Photo | None]:
        token, reason = self._open(event)
        if token is None:
            return from_claims(event, reason), None
        where = {"event_id": event.event_id, "user_id": event.user_id}
        try:
            profile = await self._graph.profile(token)
            if profile.id != event.azure_oid:
                log.warning("graph profile is another person's, ignored", extra=where)
                return from_claims(event, "graph_profile_mismatch"), None
            photo, avatar_reason = await self._photo(token)
        except TokenRefused:
            log.info("graph refused the token; using the id_token's claims", extra=where)
            return from_claims(event, "graph_token_refused"), None
        except ProvisioningError:
            raise
        except Exception as exc:  # e.g. a token httpx cannot put in a header; never let its text escape
            raise ProcessingFailed(exc, hide=(token,)) from None
        email, email_source, email_verified = email_from_graph(profile, event)
        details = Details(
            name=storable(profile.display_name or event.name),
            email=storable(email),
            email_source=email_source,
            email_verified=email_verified,
            title=storable(profile.job_title),
            title_known=True,
            avatar_sha256=avatars.content_hash(photo) if photo else None,
            avatar_known=avatar_reason is None,
            not_refreshed_reason=avatar_reason,
        )
        return details, photo

    async def _photo(self, token: str) -> tuple[Photo | None, str | None]:
        """(photo or None, why the avatar was not refreshed or None)."""
        try:
            photo = await self._graph.photo(token)
        except PhotoTooLarge:
            self._metrics.avatar_downloads.labels("rejected").inc()
            return None, "avatar_too_large"
        if photo is None:
            self._metrics.avatar_downloads.labels("none").inc()
            return None, None
        rejected = avatars.rejection(photo)
        if rejected is not None:
            self._metrics.avatar_downloads.labels("rejected").inc()
            log.warning("avatar rejected", extra={"why": rejected, "content_type": photo.content_type})
            return None, rejected
        self._metrics.avatar_downloads.labels("stored").inc()
        return photo, None

    def _open(self, event: UserSignedIn) -> tuple[str | None, str]:
        if event.sealed_graph_token is None:
            return None, "no_graph_token"
        try:
            binding = Binding(event.event_id, event.tenant_id, event.user_id, event.azure_oid)
            return open_token(self._keys, binding, event.sealed_graph_token, self._clock()), ""
        except SealedTokenError as exc:
            expired = "expired" in str(exc)
            log.info("graph token not usable; using the id_token's claims", extra={"event_id": event.event_id})
            return None, "graph_token_expired" if expired else "graph_token_unusable"
