"""Throwaway databases on the stack's PostgreSQL, so tests never see each other's or a developer's data."""

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from kutamo_dev import postgres


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
    on_it = await asyncpg.connect(f"{base}/{name}")
    try:  # the services' login roles, and their right to create their schemas in this database
        await on_it.execute(postgres.ROLES_SQL.read_text())
    finally:
        await on_it.close()
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


def as_identity(url: str) -> str:
    """`url` for the identity service: its own login role, neither superuser nor BYPASSRLS."""
    return postgres.as_role(url, postgres.IDENTITY_ROLE)


def as_provisioning(url: str) -> str:
    """`url` for the provisioning worker: its own login role, neither superuser nor BYPASSRLS."""
    return postgres.as_role(url, postgres.PROVISIONING_ROLE)
