"""The Graph client's retries without a server: a scripted Microsoft Graph behind httpx.MockTransport.

Throttling waits what Retry-After asks (capped), 5xx and timeouts back off exponentially, both give
up after a bounded number of attempts, and answers that retrying cannot change are never retried.
Waits are recorded instead of slept, so the rules are checked exactly and fast.
"""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kutamo_provisioning import graph
from kutamo_provisioning.errors import GraphFailed
from kutamo_provisioning.graph import GraphClient, Photo, Profile, TokenRefused
from kutamo_provisioning.metrics import Metrics

PROFILE = b'{"id": "8f0c", "displayName": "Adele Vance", "mail": "adele@contoso.com", "jobTitle": "Retail Manager"}'
Step = httpx.Response | Exception


class Graph:
    """Answers each request with the next scripted step (an answer or a transport failure)."""

    def __init__(self, *steps: Step) -> None:
        self.steps: Iterator[Step] = iter(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self.steps)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(graph.asyncio, "sleep", record)
    return slept


def client(script: Graph, metrics: Metrics | None = None, avatar_max_bytes: int = 4096) -> GraphClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    return GraphClient(http, "https://graph.example/", avatar_max_bytes, metrics or Metrics())


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def ok() -> httpx.Response:
    return httpx.Response(200, content=PROFILE, headers={"content-type": "application/json; odata.metadata=minimal"})


def throttled(retry_after: str | None) -> httpx.Response:
    return httpx.Response(429, headers={} if retry_after is None else {"Retry-After": retry_after})


async def test_a_throttled_call_waits_as_long_as_retry_after_says_then_reads_the_profile(waits: list[float]) -> None:
    metrics = Metrics()
    script = Graph(throttled("3"), ok())

    profile = await client(script, metrics).profile("token")

    assert profile == Profile(
        id="8f0c", display_name="Adele Vance", mail="adele@contoso.com", job_title="Retail Manager"
    )
    assert waits == [3.0]
    assert sample(metrics, "kutamo_provisioning_graph_throttle_wait_seconds_total", endpoint="me") == 3.0
    assert sample(metrics, "kutamo_provisioning_graph_calls_total", endpoint="me", status="429") == 1
    assert script.requests[0].headers["authorization"] == "Bearer token"
    assert str(script.requests[0].url) == f"https://graph.example/v1.0/me?$select={graph.PROFILE_FIELDS}"


async def test_a_retry_after_longer_than_the_cap_waits_only_the_cap(waits: list[float]) -> None:
    await client(Graph(throttled("3600"), ok())).profile("token")
    assert waits == [graph.MAX_RETRY_AFTER] == [30.0]


@pytest.mark.parametrize("retry_after", [None, "soon"])
async def test_a_throttled_call_without_a_usable_retry_after_backs_off_like_a_server_error(
    waits: list[float], retry_after: str | None
) -> None:
    await client(Graph(throttled(retry_after), throttled(retry_after), ok())).profile("token")
    assert waits == [0.25, 0.5]


async def test_server_errors_back_off_exponentially_and_the_photo_arrives(waits: list[float]) -> None:
    metrics = Metrics()
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 16
    answer = httpx.Response(200, content=jpeg, headers={"content-type": "image/jpeg"})
    script = Graph(httpx.Response(500), httpx.Response(502), httpx.Response(503), answer)

    photo = await client(script, metrics).photo("token")

    assert photo == Photo(content_type="image/jpeg", data=jpeg)
    assert waits == [0.25, 0.5, 1.0]
    assert sample(metrics, "kutamo_provisioning_graph_retries_total", endpoint="photo", reason="http_502") == 1
    assert script.requests[-1].url.path == graph.PHOTO_PATH


async def test_a_timeout_is_retried_and_counted_as_a_timeout(waits: list[float]) -> None:
    metrics = Metrics()

    await client(Graph(httpx.ReadTimeout("slow"), ok()), metrics).profile("token")

    assert waits == [0.25]
    assert sample(metrics, "kutamo_provisioning_graph_calls_total", endpoint="me", status="timeout") == 1
    assert sample(metrics, "kutamo_provisioning_graph_retries_total", endpoint="me", reason="ReadTimeout") == 1


async def test_graph_that_keeps_failing_is_given_up_after_four_attempts_without_a_last_wait(waits: list[float]) -> None:
    script = Graph(*(httpx.Response(503) for _ in range(graph.ATTEMPTS)), ok())

    with pytest.raises(GraphFailed) as failed:
        await client(script).profile("token")

    assert failed.value.code == "graph_unavailable"
    assert "http_503" in failed.value.detail
    assert len(script.requests) == graph.ATTEMPTS == 4
    assert waits == [0.25, 0.5, 1.0]


async def test_connection_failures_are_given_up_too(waits: list[float]) -> None:
    script = Graph(*(httpx.ConnectError("refused") for _ in range(graph.ATTEMPTS)))
    with pytest.raises(GraphFailed, match="ConnectError"):
        await client(script).profile("token")
    assert len(script.requests) == 4


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_not_retried(waits: list[float], status: int) -> None:
    script = Graph(httpx.Response(status), ok())
    with pytest.raises(TokenRefused):
        await client(script).profile("token")
    assert (len(script.requests), waits) == (1, [])


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (lambda: httpx.Response(400), "graph_error"),
        (lambda: httpx.Response(404), "graph_error"),
        (lambda: httpx.Response(200, content=b"<html>"), "graph_bad_answer"),
        (lambda: httpx.Response(200, content=b'{"displayName": "no id"}'), "graph_bad_answer"),
    ],
)
async def test_a_profile_answer_retrying_cannot_fix_fails_at_once(
    waits: list[float], answer: Callable[[], httpx.Response], code: str
) -> None:
    script = Graph(answer(), ok())
    with pytest.raises(GraphFailed) as failed:
        await client(script).profile("token")
    assert (failed.value.code, len(script.requests), waits) == (code, 1, [])


async def test_a_person_without_a_photo_has_none_after_one_call(waits: list[float]) -> None:
    script = Graph(httpx.Response(404), ok())
    assert await client(script).photo("token") is None
    assert (len(script.requests), waits) == (1, [])


@pytest.mark.parametrize("declared", [True, False])
async def test_a_photo_over_the_size_limit_is_cut_off(waits: list[float], declared: bool) -> None:
    big: Any = b"\xff\xd8" + b"\x00" * 5000
    headers = {"content-type": "image/jpeg"}
    answer = httpx.Response(200, content=big, headers=headers) if declared else httpx.Response(
        200, stream=httpx.ByteStream(big), headers=headers
    )  # fmt: skip
    with pytest.raises(graph.PhotoTooLarge):
        await client(Graph(answer), avatar_max_bytes=4096).photo("token")
