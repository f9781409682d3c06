"""Write an event into the outbox inside the caller's transaction."""

from datetime import datetime

import asyncpg
import msgspec

from kutamo_contracts.envelope import Envelope

CHANNEL = "kutamo_outbox"

_json = msgspec.json.Encoder()


def encode_headers(envelope: Envelope) -> bytes:
    """The headers as the outbox keeps them: the bytes of `[["name", "value"], ...]` (values are text)."""
    return _json.encode([(name, value.decode()) for name, value in envelope.headers])


async def add(conn: asyncpg.Connection, event_id: str, envelope: Envelope, now: datetime) -> None:
    await conn.execute(
        "insert into outbox (event_id, topic, key, value, headers, created_at) values ($1, $2, $3, $4, $5, $6)",
        event_id,
        envelope.topic,
        envelope.key,
        envelope.value,
        encode_headers(envelope),
        now,
    )
    # A wake-up hint for the relay, delivered at commit; polling covers a lost hint.
    await conn.execute(f"notify {CHANNEL}")
