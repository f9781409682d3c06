"""One operator header for both services: `Authorization: Bearer <key>`; the worker's old header, once."""

import logging
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient

from kutamo_kit.operators import OperatorKey, bearer
from kutamo_kit.problems import exception_handlers
from kutamo_provisioning.access import Access

KEY = "k" * 40


class NoSessions:
    """A verifier that is never reached when the caller is an operator."""

    async def verify(self, authorization: str | None) -> dict[str, Any]:
        raise AssertionError(f"not a session: {authorization}")


def worker_api() -> Litestar:
    access = Access(NoSessions(), KEY)  # type: ignore[arg-type]

    @get("/v1/whoami")
    async def whoami(request: Request[Any, Any, Any]) -> dict[str, str]:
        caller = await access.caller(request)
        return {"tenant": str(caller.tenant_id)}

    return Litestar([whoami], exception_handlers=exception_handlers(), logging_config=None)


def test_bearer_reads_the_credential_of_an_authorization_header() -> None:
    assert bearer(f"Bearer {KEY}") == KEY
    assert bearer(f"bearer  {KEY} ") == KEY
    assert bearer(f"Basic {KEY}") is None
    assert bearer(None) is None
    assert bearer("Bearer ") is None


def test_the_operator_key_matches_only_itself() -> None:
    assert OperatorKey(KEY).matches(KEY)
    assert not OperatorKey(KEY).matches(KEY[:-1])
    assert not OperatorKey(None).matches(KEY)


def test_the_worker_takes_the_operator_key_as_a_bearer_token_like_identity() -> None:
    with TestClient(worker_api()) as client:
        operator = client.get("/v1/whoami", headers={"Authorization": f"Bearer {KEY}"})
        wrong = client.get("/v1/whoami", headers={"Authorization": "Bearer " + "x" * 40})
    assert (operator.status_code, operator.json()) == (200, {"tenant": "None"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "operator_key_invalid")


def test_the_deprecated_header_still_works_and_is_logged_once_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING), TestClient(worker_api()) as client:
        answers = [client.get("/v1/whoami", headers={"X-Operator-Key": KEY}).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    warnings = [r.getMessage() for r in caplog.records if r.name == "kutamo_kit.operators"]
    assert len(warnings) == 1
    assert "deprecated header X-Operator-Key" in warnings[0]
    assert "Authorization: Bearer" in warnings[0]
    assert KEY not in caplog.text
