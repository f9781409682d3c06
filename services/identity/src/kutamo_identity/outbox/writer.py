"""Write an event into the outbox inside the caller's transaction."""

import json
from datetime import datetime

import asyncpg

from kutamo_contracts.envelope import Envelope

CHANNEL = "kutamo_outbox"


async def add(conn: asyncpg.Connection, event_id: str, envelope: Envelope, now: datetime) -> None:
    headers = [[name, value.decode()] for name, value in envelope.headers]
    await conn.execute(
        "insert into outbox (event_id, topic, key, value, headers, created_at) values ($1, $2, $3, $4, $5, $6)",
        event_id,
        envelope.topic,
        envelope.key,
        envelope.value,
        json.dumps(headers),
        now,
    )
    # A wake-up hint for the relay, delivered at commit; polling covers a lost hint.
    await conn.execute(f"notify {CHANNEL}")
