"""Per-client rate limits: a token bucket per address, refilled over the minute, bounded in memory."""

from datetime import UTC, datetime, timedelta

from kutamo_identity.ratelimit import ClientRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_client_gets_its_minute_at_once_then_waits_for_the_next_request() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(60, clock)

    assert [limiter.take("203.0.113.7") for _ in range(60)] == [None] * 60
    assert limiter.take("203.0.113.7") == 1
    clock.now += timedelta(seconds=1)
    assert limiter.take("203.0.113.7") is None
    assert limiter.take("203.0.113.7") == 1


def test_retry_after_is_how_long_the_next_request_waits() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(2, clock)  # one request every 30 s
    limiter.take("a")
    limiter.take("a")
    assert limiter.take("a") == 30
    clock.now += timedelta(seconds=20)
    assert limiter.take("a") == 10


def test_one_client_over_its_limit_does_not_slow_another() -> None:
    limiter = ClientRateLimiter(5, Clock())
    for _ in range(10):
        limiter.take("noisy")
    assert limiter.take("noisy") is not None
    assert limiter.take("quiet") is None


def test_many_addresses_cannot_grow_memory_past_the_bound() -> None:
    limiter = ClientRateLimiter(5, Clock(), max_clients=100)
    for n in range(10_000):
        limiter.take(f"198.51.{n // 256}.{n % 256}")
    assert limiter.clients == 100
