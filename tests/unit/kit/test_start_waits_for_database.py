"""A service started while PostgreSQL is away waits for it with a capped backoff, saying so once, and
fails at once on anything that is not the database's absence (kutamo_kit.migrations)."""

import logging
import socket

import pytest

from kutamo_kit.migrations import Migrations, SchemaBehind

MIGRATIONS = Migrations(schema="identity", package="kutamo_identity.migrations", lock_id=1, command="migrate")


def refused_url() -> str:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://kutamo@127.0.0.1:{port}/kutamo"


class GivesUpAfter:
    """A sleep that records each wait and stops the test's waiting after `n` of them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.n:
            raise KeyboardInterrupt


async def test_start_waits_for_an_unreachable_database_with_a_capped_backoff_logging_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleep = GivesUpAfter(8)
    with caplog.at_level(logging.WARNING, "kutamo_kit.migrations"), pytest.raises(KeyboardInterrupt):
        await MIGRATIONS.prepare_when_reachable(refused_url(), apply=False, max_delay=10.0, sleep=sleep)

    assert sleep.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    waiting = [r for r in caplog.records if r.getMessage() == "database unavailable at start: waiting for it"]
    assert len(waiting) == 1
    assert "ConnectionRefusedError" in waiting[0].reason  # type: ignore[attr-defined]


async def test_start_fails_at_once_when_the_failure_is_not_the_database_being_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def behind(database_url: str, *, apply: bool) -> list[str]:
        raise SchemaBehind("the identity schema is behind this version")

    monkeypatch.setattr(MIGRATIONS, "prepare", behind)
    sleep = GivesUpAfter(1)
    with pytest.raises(SchemaBehind):
        await MIGRATIONS.prepare_when_reachable("postgresql://unused", apply=False, sleep=sleep)
    assert sleep.waits == []
