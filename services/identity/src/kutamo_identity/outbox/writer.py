"""Write an event into the outbox inside the caller's transaction; `OUTBOX` tells the kit's relay how
to publish it (kutamo_kit.outbox)."""

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from kutamo_contracts.envelope import Envelope
from kutamo_kit.outbox.table import OutboxTable, Pending

CHANNEL = "kutamo_outbox"

_json = msgspec.json.Encoder()
_headers = msgspec.json.Decoder(list[tuple[str, str]])


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


def pending(row: Any, settled: bool) -> Pending:
    headers = [(name, value.encode()) for name, value in _headers.decode(row["headers"])]
    return Pending(row["id"], settled, row["topic"], row["key"], row["value"], headers)


OUTBOX = OutboxTable(
    schema="identity",
    record_columns="topic, key, value, headers",
    decode=pending,
    lock_id=0x6B7574616D6F02,
    channel=CHANNEL,
    keeps_published=True,  # kept in outbox_published for OUTBOX_RETENTION_HOURS (audits, replays)
)
