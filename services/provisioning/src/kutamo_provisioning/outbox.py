"""The worker's outbox: "user provisioned" events written in the batch's transaction, then relayed to Kafka
by the kit's relay (kutamo_kit.outbox, in a process of its own started by the worker).

A crash can no longer lose the announcement of a user record that was committed: both commit or
neither does. The relay publishes rows in commit order, each user's in order, and deletes a row once
Kafka has acknowledged it; a crash between the two republishes it: downstream de-duplicates by event
id (at least once, never lost). Each batch that writes rows sends a NOTIFY on CHANNEL in its
transaction, which wakes the relay.
"""

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from kutamo_contracts.envelope import Envelope
from kutamo_kit.outbox.table import OutboxTable, Pending

CHANNEL = "kutamo_provisioning_outbox"
_LOCK_ID = 0x6B7574616D6F12
_packer = msgspec.msgpack.Encoder()
_unpacker = msgspec.msgpack.Decoder(Envelope)
_legacy = msgspec.json.Decoder(Envelope)  # rows written before migration 0004


async def write(conn: asyncpg.Connection, envelopes: list[Envelope], now: datetime) -> None:
    """Add the envelopes to the outbox inside the caller's transaction (COPY: one round trip, no parsing)."""
    if not envelopes:
        return
    await conn.copy_records_to_table(
        "outbox",
        schema_name="provisioning",
        columns=("topic", "record", "created_at"),
        records=[(e.topic, _packer.encode(e), now) for e in envelopes],
    )
    await conn.execute(f"notify {CHANNEL}")


def pending(row: Any, settled: bool) -> Pending:
    e = _unpacker.decode(row["record"]) if row["record"] is not None else _legacy.decode(row["envelope"])
    return Pending(row["id"], settled, e.topic, e.key, e.value, e.headers)


OUTBOX = OutboxTable(
    schema="provisioning",
    record_columns="record, envelope::text as envelope",
    decode=pending,
    lock_id=_LOCK_ID,
    channel=CHANNEL,
    application_name="kutamo-provisioning-outbox-relay",
)
