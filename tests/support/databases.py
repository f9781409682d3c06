"""Throwaway databases on the stack's PostgreSQL, so tests never see each other's or a developer's data."""

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg


@contextlib.asynccontextmanager
async def throwaway_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a fresh database, dropped (connections and all) when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()
