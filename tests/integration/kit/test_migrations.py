"""Migrations on the real PostgreSQL: an explicit command, no surprise at start, and applied files never change."""

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from kutamo_kit.migrations import ChangedMigration, Migrations
from tests.support.databases import as_provisioning, throwaway_database
from tests.support.processes import service_env


@pytest.fixture
async def fresh(database_url: str) -> AsyncIterator[str]:
    async with throwaway_database(database_url, "migrations") as url:
        yield url


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package of two migration files of a schema of its own, importable for the runner."""
    name = f"kit_migrations_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "0001_things.sql").write_text("create table things (id int primary key);")
    (folder / "0002_more.sql").write_text("alter table things add column label text;")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    sys.modules.pop(name, None)


def runner(folder: Path) -> Migrations:
    return Migrations(schema=folder.name, package=folder.name, lock_id=0x6B7574, command="migrate")


def worker(args: list[str], url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = service_env({"DATABASE_URL": url, **extra})
    env.pop("MIGRATE_ON_START")
    env.update(extra)
    command = [sys.executable, "-m", "kutamo_provisioning", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_a_service_whose_schema_is_behind_refuses_to_start_and_names_the_command(fresh: str) -> None:
    settings = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "TOKEN_SEALING_KEY": "A" * 43 + "=",
                "IDENTITY_BASE_URL": "http://127.0.0.1:9"}  # fmt: skip
    refused = worker([], as_provisioning(fresh), **settings)
    assert refused.returncode == 3, refused.stderr
    assert "the provisioning schema is behind this version" in refused.stderr
    assert "python -m kutamo_provisioning migrate" in refused.stderr
    assert "MIGRATE_ON_START=true" in refused.stderr
    conn = await asyncpg.connect(fresh)
    try:
        assert await conn.fetchval("select to_regclass('provisioning.schema_migrations')") is None, "nothing applied"
    finally:
        await conn.close()


async def test_the_migrate_command_applies_every_file_once_and_records_its_checksum(fresh: str) -> None:
    first = worker(["migrate"], as_provisioning(fresh))
    assert first.returncode == 0, first.stderr
    applied = json.loads(first.stdout.splitlines()[-1])["applied"]
    assert applied[0].startswith("0001_")
    assert len(applied) >= 6
    again = worker(["migrate"], as_provisioning(fresh))
    assert json.loads(again.stdout.splitlines()[-1]) == {"schema": "provisioning", "applied": []}
    conn = await asyncpg.connect(fresh)
    try:
        rows = await conn.fetch("select name, checksum from provisioning.schema_migrations order by name")
    finally:
        await conn.close()
    assert [r["name"] for r in rows] == applied
    assert all(len(r["checksum"]) == 64 for r in rows)


async def test_an_already_applied_migration_that_changed_is_refused_by_name(fresh: str, package: Path) -> None:
    conn = await asyncpg.connect(fresh)
    try:
        assert await runner(package).apply(conn) == ["0001_things.sql", "0002_more.sql"]
        (package / "0001_things.sql").write_text("create table things (id bigint primary key);")
        (package / "0003_new.sql").write_text("alter table things add column seen boolean;")
        with pytest.raises(ChangedMigration, match=r"migration 0001_things\.sql .* was changed after it was applied"):
            await runner(package).apply(conn)
        with pytest.raises(ChangedMigration, match=r"0001_things\.sql"):
            await runner(package).pending(conn)
        assert await conn.fetchval("select count(*) from information_schema.columns where column_name = 'seen'") == 0
    finally:
        await conn.close()


async def test_a_database_migrated_before_checksums_is_adopted_then_held_to_its_files(
    fresh: str, package: Path
) -> None:
    schema = package.name
    conn = await asyncpg.connect(fresh)
    try:  # what the runner before this one left: names and times, no checksums
        await conn.execute(f"create schema {schema}; set search_path = {schema}")
        await conn.execute("create table things (id int primary key); alter table things add column label text")
        await conn.execute(
            f"create table {schema}.schema_migrations (name text primary key, applied_at timestamptz not null "
            f"default now()); insert into {schema}.schema_migrations (name) values ('0001_things.sql'), "
            "('0002_more.sql')"
        )
        assert await runner(package).pending(conn) == [], "an old database at this version may start as it is"
        assert await runner(package).apply(conn) == []
        recorded = await conn.fetchval(f"select count(checksum) from {schema}.schema_migrations")
        assert recorded == 2
        (package / "0002_more.sql").write_text("alter table things add column label varchar(10);")
        with pytest.raises(ChangedMigration, match=r"0002_more\.sql"):
            await runner(package).apply(conn)
    finally:
        await conn.close()
