"""The `identity` schema: its pool and its migrations (kutamo_kit applies and checks them)."""

import asyncpg

from kutamo_identity.tenancy import APP_ROLE
from kutamo_kit.database import ServiceDatabase


async def _no_session_state(_: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlock): a
    second round trip per use. Nothing here leaves session state on a pooled connection: tenant and
    operator contexts are transaction-local, the relay's advisory lock is on a connection of its own,
    and the connection cache UNLISTENs before it gives its connection back. asyncpg still rolls back a
    transaction left open."""


DATABASE = ServiceDatabase("identity", role=APP_ROLE, lock_id=0x6B7574616D6F01, reset=_no_session_state)
create_pool = DATABASE.create_pool
migrate = DATABASE.migrations.apply
migrate_database = DATABASE.migrations.apply_to  # the tests, benchmarks and CLI helpers apply them directly
