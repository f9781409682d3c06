"""Both services answer errors through the kit: a database that is away is a 503 to retry, not a bug."""

import logging
import re
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from kutamo_kit.outages import DatabaseOutage, database_unavailable
from kutamo_kit.problems import ProblemError, exception_handlers

ROOT = Path(__file__).resolve().parents[3]


class Away:
    """What the route meets next; the test swaps it."""

    error: Exception = asyncpg.CannotConnectNowError("the database system is shutting down")


def app(outage: DatabaseOutage) -> Litestar:
    @get("/v1/thing", sync_to_thread=False)
    def thing() -> dict[str, str]:
        raise Away.error

    @get("/v1/refused", sync_to_thread=False)
    def refused() -> dict[str, str]:
        raise ProblemError("tenant_forbidden", "Your session belongs to another organisation.", status=403)

    return Litestar([thing, refused], exception_handlers=exception_handlers(database=outage), logging_config=None)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    ],
)
def test_a_database_that_is_away_is_answered_503_with_retry_after(error: Exception) -> None:
    Away.error = error
    with TestClient(app(DatabaseOutage())) as client:
        response = client.get("/v1/thing")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) in range(1, 11)
    assert response.json()["code"] == "database_unavailable"
    assert "Try again" in response.json()["detail"]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    Away.error = asyncpg.CannotConnectNowError("the database system is shutting down")
    outage = DatabaseOutage()
    with caplog.at_level(logging.INFO), TestClient(app(outage)) as client:
        for _ in range(20):
            assert client.get("/v1/thing").status_code == 503
    outage.answered()
    outage.answered()
    lines = [r for r in caplog.records if r.name.startswith("kutamo_kit")]
    assert [(r.levelname, r.getMessage()) for r in lines] == [
        ("WARNING", "database unavailable"),
        ("WARNING", "database available again"),
    ]
    assert "shutting down" in str(lines[0].__dict__["reason"])
    assert not any("unhandled" in r.getMessage() for r in caplog.records)


def test_a_query_error_is_still_a_bug_not_an_outage() -> None:
    assert not database_unavailable(asyncpg.UndefinedColumnError("column x does not exist"))
    assert not database_unavailable(asyncpg.QueryCanceledError("canceling statement due to statement timeout"))
    Away.error = ValueError("a bug")
    with TestClient(app(DatabaseOutage())) as client:
        response = client.get("/v1/thing")
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")


def test_an_error_raised_while_handling_a_lost_connection_still_counts_as_the_outage() -> None:
    wrapped = RuntimeError("could not finish the transaction")
    wrapped.__cause__ = ConnectionResetError("reset by peer")
    assert database_unavailable(wrapped)


def test_a_pooled_connection_that_postgresql_terminated_while_idle_counts_as_the_outage() -> None:
    """asyncpg's words when a connection got PostgreSQL's FATAL shutdown notice while idle in the pool and
    was taken before its socket closed (the fault test's restart answered one login page 500 for it)."""
    assert database_unavailable(
        asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    )
    assert not database_unavailable(asyncpg.exceptions.InternalClientError("some other client bug"))


def test_titles_follow_from_the_status_in_both_services() -> None:
    with TestClient(app(DatabaseOutage())) as client:
        refused = client.get("/v1/refused").json()
        missing = client.get("/nowhere").json()
    assert (refused["title"], refused["code"]) == ("Not allowed", "tenant_forbidden")
    assert (missing["title"], missing["code"]) == ("Not found", "not_found")


def test_every_code_the_kit_answers_is_in_docs_errors_md_for_both_services() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    source = (ROOT / "kit" / "src" / "kutamo_kit" / "problems.py").read_text()
    codes = set(re.findall(r'problem\(\s*(\d{3}),\s*"([a-z_]+)"', source))
    assert (503, "database_unavailable") in {(int(s), c) for s, c in codes}
    identity, _, worker = errors.partition("## Provisioning read API")
    for status, code in codes:
        if code == "http_error":
            continue  # any other status the framework raises: no one status to list
        for section in (identity, worker):
            assert re.search(rf"^\| {status} \| [^|]*`{code}`", section, re.MULTILINE), code
