"""One getmany batch in, one database transaction out: decode, read Graph, apply, announce.

Malformed records and events whose Graph calls kept failing become dead letters; everything else is
applied in a single transaction together with its "user provisioned" announcements (the outbox).
Graph is read only for events that can still change a record: not already processed, newer than the
stored sign-in, and the newest of their user in this batch that carries a token.

One event must never stall its partition: whatever reading Graph for it raises is retried a few times,
then dead-lettered (ProcessingFailed); a transaction that fails while the database still answers is
split in halves until the events at fault are alone, retried alone, then dead-lettered, and the others
are applied. A database that does not answer fails the batch instead (it is redelivered; nothing is
dead-lettered for an outage).
"""

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec
from aiokafka import ConsumerRecord

from kutamo_contracts import tracing
from kutamo_contracts.envelope import (
    SOURCE_PROVISIONING,
    Envelope,
    EnvelopeError,
    decode_record,
    encode_record,
    header,
)
from kutamo_contracts.events import UserProvisioned, UserSignedIn
from kutamo_contracts.topics import USER_LIFECYCLE, USER_PROVISIONED, USER_SIGNED_IN
from kutamo_kit.outages import DatabaseAway
from kutamo_kit.outages import describe as describe_outage
from kutamo_kit.seams import Clock
from kutamo_provisioning import directory, graph, outbox, users
from kutamo_provisioning.avatars import AvatarStore
from kutamo_provisioning.errors import GraphFailed, MalformedEvent, ProcessingFailed, ProvisioningError, Unstorable
from kutamo_provisioning.graph import Photo
from kutamo_provisioning.provisioner import Provisioner, from_claims
from kutamo_provisioning.tenancy import worker_transaction

log = logging.getLogger(__name__)

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Ready: TypeAlias = "tuple[Record, users.Item, Photo | None]"

ATTEMPTS = 3
"""Tries of one event, alone, before an unexpected failure of it is dead-lettered."""
_BACKOFF_SECONDS = 0.2
_PING_SECONDS = 5.0


class Failed(msgspec.Struct, frozen=True):
    record: Record
    error: ProvisioningError
    attempts: int


class Result(msgspec.Struct, frozen=True):
    failed: list[Failed]
    outcomes: list[users.Outcome]


class BatchProcessor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        provisioner: Provisioner,
        store: AvatarStore,
        clock: Clock,
        graph_concurrency: int,
        announce_on: str = USER_PROVISIONED.name,
        lifecycle_topic: str = USER_LIFECYCLE.name,
    ) -> None:
        self._lifecycle_topic = lifecycle_topic
        self._announce_on = announce_on
        self._pool = pool
        self._provisioner = provisioner
        self._store = store
        self._clock = clock
        self._graph_slots = asyncio.Semaphore(graph_concurrency)

    async def process(self, records: Sequence[Record]) -> Result:
        """Sign-ins as below; the directory's lifecycle events after them, in their own transaction."""
        lifecycle = [r for r in records if r.topic == self._lifecycle_topic]
        result = await self._sign_ins([r for r in records if r.topic != self._lifecycle_topic])
        if not lifecycle:
            return result
        failures, outcomes = await directory.process(self._pool, lifecycle, self._clock())
        failed = result.failed + [Failed(record, error, 1) for record, error in failures]
        return Result(failed=failed, outcomes=result.outcomes + outcomes)

    async def _sign_ins(self, records: Sequence[Record]) -> Result:
        failed: list[Failed] = []
        decoded: list[tuple[Record, UserSignedIn]] = []
        traces: dict[str, str | None] = {}
        for record in records:
            try:
                event = _decode(record)
            except MalformedEvent as exc:
                failed.append(Failed(record, exc, 1))
                continue
            except Exception as exc:  # decoding is deterministic: retrying would change nothing
                failed.append(Failed(record, ProcessingFailed(exc), 1))
                continue
            decoded.append((record, event))
            traces[event.event_id] = header(record.headers, "traceparent")
        targets = await self._graph_targets([e for _, e in decoded])
        chosen = [e for _, e in decoded if e.event_id in targets]
        read = await asyncio.gather(*(self._details(e) for e in chosen))
        from_graph = {e.event_id: r for e, r in zip(chosen, read, strict=True)}
        ready: list[Ready] = []
        for record, event in decoded:
            result = from_graph.get(event.event_id)
            if result is None:
                result = from_claims(event, _claims_only(event)), None
            if isinstance(result, ProvisioningError):
                failed.append(Failed(record, result, graph.ATTEMPTS if isinstance(result, GraphFailed) else ATTEMPTS))
                continue
            details, photo = result
            ready.append((record, users.Item(event, details), photo))
        items, outcomes = await self._apply_isolating(ready, traces, self._clock(), failed)
        _log_applied(items, outcomes, traces)
        return Result(failed=failed, outcomes=outcomes)

    async def _apply_isolating(
        self, ready: list[Ready], traces: dict[str, str | None], now: datetime, failed: list[Failed]
    ) -> tuple[list[users.Item], list[users.Outcome]]:
        """Apply `ready` in one transaction; when that fails while the database answers, apply each half
        the same way (in order, so a user's events still apply oldest first), down to single events."""
        if not ready:
            return [], []
        try:
            return await self._apply(ready, traces, now)
        except Exception as exc:
            if len(ready) == 1:
                return await self._apply_alone(ready[0], exc, traces, now, failed)
            await self._raise_unless_database_answers(exc)
            log.warning("batch transaction failed; splitting it to find the event at fault",
                        extra={"events": len(ready), "error_class": type(exc).__name__})  # fmt: skip
        half = len(ready) // 2
        first_items, first_outcomes = await self._apply_isolating(ready[:half], traces, now, failed)
        last_items, last_outcomes = await self._apply_isolating(ready[half:], traces, now, failed)
        return first_items + last_items, first_outcomes + last_outcomes

    async def _apply_alone(
        self, one: Ready, error: Exception, traces: dict[str, str | None], now: datetime, failed: list[Failed]
    ) -> tuple[list[users.Item], list[users.Outcome]]:
        """One event whose transaction failed with `error`: retried up to ATTEMPTS in all, then dead-lettered."""
        attempt = 1
        while True:
            await self._raise_unless_database_answers(error)
            if isinstance(error, asyncpg.DataError):  # a value PostgreSQL refuses: no retry changes it
                failed.append(Failed(one[0], Unstorable(f"{type(error).__name__}: {error}"), attempt))
                return [], []
            if attempt == ATTEMPTS:
                failed.append(Failed(one[0], ProcessingFailed(error), attempt))
                return [], []
            log.warning("event failed in its transaction; retrying it alone",
                        extra={"event_id": one[1].event.event_id, "error_class": type(error).__name__,
                               "attempt": attempt})  # fmt: skip
            await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
            attempt += 1
            try:
                return await self._apply([one], traces, now)
            except Exception as exc:
                error = exc

    async def database_answers(self) -> bool:
        try:
            async with asyncio.timeout(_PING_SECONDS), self._pool.acquire() as conn:
                await conn.fetchval("select 1")
        except Exception:
            return False
        return True

    async def _raise_unless_database_answers(self, error: Exception) -> None:
        """A failure is an event's only while PostgreSQL answers; otherwise the batch fails as DatabaseAway
        (the consumer pauses and fetches it again later), so an outage never dead-letters anything."""
        if not await self.database_answers():
            raise DatabaseAway(describe_outage(error)) from error

    async def _apply(
        self, ready: list[Ready], traces: dict[str, str | None], now: datetime
    ) -> tuple[list[users.Item], list[users.Outcome]]:
        """Photos, user records and announcements, in one transaction."""
        items = [item for _, item, _ in ready]
        photos = [(item.event.tenant_id, photo) for _, item, photo in ready if photo is not None]
        async with worker_transaction(self._pool) as conn:
            await self._store.put(conn, photos, now)
            outcomes = await users.apply_batch(conn, items, now)
            await outbox.write(conn, _announcements(items, outcomes, now, self._announce_on, traces), now)
        await self._sweep({uuid.UUID(i.event.tenant_id) for i, o in zip(items, outcomes, strict=True)
                           if "avatar_sha256" in o.changed_fields or o.change == "erased"})  # fmt: skip
        return items, outcomes

    async def _sweep(self, tenants: set[uuid.UUID]) -> None:
        """Delete the avatars this batch left unreferenced, after its commit; a failure here loses nothing
        (the periodic sweep catches up), so it never fails the batch."""
        for tenant_id in sorted(tenants):
            try:
                async with worker_transaction(self._pool) as conn:
                    await self._store.sweep(conn, tenant_id)
            except Exception as exc:
                log.warning("avatar sweep failed; the periodic sweep will retry",
                            extra={"tenant_id": str(tenant_id), "error_class": type(exc).__name__})  # fmt: skip

    async def _graph_targets(self, events: list[UserSignedIn]) -> set[str]:
        """Event ids worth a Graph read (see the module docstring)."""
        with_token = [e for e in events if e.sealed_graph_token is not None]
        if not with_token:
            return set()
        async with worker_transaction(self._pool) as conn:
            done = {
                str(r["event_id"])
                for r in await conn.fetch(
                    "select event_id from processed_events where event_id = any($1)",
                    [uuid.UUID(e.event_id) for e in with_token],
                )
            }
            known = {
                str(r["user_id"]): r["signed_in_at"]
                for r in await conn.fetch(
                    "select user_id, signed_in_at from users where user_id = any($1)",
                    list({uuid.UUID(e.user_id) for e in with_token}),
                )
            }
        newest: dict[str, UserSignedIn] = {}
        for event in with_token:
            last = known.get(event.user_id)
            if event.event_id in done or (last is not None and event.signed_in_at <= last):
                continue
            current = newest.get(event.user_id)
            if current is None or event.signed_in_at > current.signed_in_at:
                newest[event.user_id] = event
        return {e.event_id for e in newest.values()}

    async def _details(self, event: UserSignedIn) -> tuple[users.Details, Photo | None] | ProvisioningError:
        """Graph's answer for one event, or why not: GraphFailed (retried in graph.py), or whatever else
        raised, tried ATTEMPTS times in all (ProcessingFailed)."""
        for attempt in range(1, ATTEMPTS + 1):
            async with self._graph_slots:
                try:
                    return await self._provisioner.details(event)
                except GraphFailed as exc:
                    return exc
                except Exception as exc:
                    failure = exc if isinstance(exc, ProcessingFailed) else ProcessingFailed(exc)
            log.warning("reading Graph for an event failed unexpectedly",
                        extra={"event_id": event.event_id, "error_class": failure.error_class,
                               "attempt": attempt})  # fmt: skip
            if attempt < ATTEMPTS:
                await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
        return failure


def _announcement_id(source_event_id: str) -> str:
    """A UUID (version 5 layout) derived from the sign-in, so a re-announcement carries the same id."""
    h = hashlib.sha1(b"kutamo:user-provisioned:" + source_event_id.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def _claims_only(event: UserSignedIn) -> str:
    return "no_graph_token" if event.sealed_graph_token is None else "superseded_in_batch"


def _decode(record: Record) -> UserSignedIn:
    try:
        return decode_record(USER_SIGNED_IN, UserSignedIn, record.headers, record.value)
    except EnvelopeError as exc:
        raise MalformedEvent(str(exc)) from exc


def _log_applied(items: list[users.Item], outcomes: list[users.Outcome], traces: dict[str, str | None]) -> None:
    """One line per sign-in, with the trace it came in on, so a sign-in can be followed across services."""
    if not log.isEnabledFor(logging.INFO):
        return
    for item, outcome in zip(items, outcomes, strict=True):
        event = item.event
        log.info(
            "sign-in applied",
            extra={"event_id": event.event_id, "tenant_id": event.tenant_id, "user_id": event.user_id,
                   "change": outcome.change, "trace_id": tracing.trace_id(traces.get(event.event_id))},
        )  # fmt: skip


def _announcements(
    items: list[users.Item],
    outcomes: list[users.Outcome],
    now: datetime,
    topic: str,
    traces: dict[str, str | None],
) -> list[Envelope]:
    envelopes = []
    for item, outcome in zip(items, outcomes, strict=True):
        if outcome.record is None or outcome.change not in ("created", "updated", "unchanged"):
            continue
        r, event = outcome.record, item.event
        message = UserProvisioned(
            event_id=_announcement_id(event.event_id),
            source_event_id=event.event_id,
            tenant_id=event.tenant_id,
            user_id=event.user_id,
            change=outcome.change,
            changed_fields=outcome.changed_fields,
            name=r["name"],
            email=r["email"],
            title=r["title"],
            avatar_sha256=r["avatar_sha256"],
            provisioned_at=now,
            profile_refreshed=r["profile_refreshed"],
            not_refreshed_reason=r["not_refreshed_reason"],
            email_source=r["email_source"],
            email_verified=r["email_verified"],
        )
        envelopes.append(
            encode_record(
                USER_PROVISIONED, message, event_id=message.event_id, subject=event.user_id,
                source=SOURCE_PROVISIONING, time=now, topic_name=topic,
                traceparent=tracing.continue_or_start(traces.get(event.event_id)),
            )
        )  # fmt: skip
    return envelopes
