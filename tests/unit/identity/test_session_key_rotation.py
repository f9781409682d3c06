"""Session signing keys rotate on a schedule: published a period before they sign, kept until their
last token has expired, one set per process. A controlled clock and an in-memory key table."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from kutamo_identity.sessions.issuer import RETIREMENT_MARGIN, KeyNotPublished, SessionIssuer

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TTL = 900
ROTATION = timedelta(hours=24)


class KeyTable:
    """Stands in for identity.session_keys: what publish_due stores, and how often it is called."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.calls = 0

    async def execute(self, _sql: str, kid: str, jwk: str, created_at: datetime, retire_after: datetime) -> None:
        self.calls += 1
        self.rows.setdefault(kid, {"jwk": json.loads(jwk), "created_at": created_at, "retire_after": retire_after})

    def published(self, now: datetime) -> dict[str, dict[str, Any]]:
        """What /.well-known/jwks.json serves at `now`."""
        return {kid: row["jwk"] for kid, row in self.rows.items() if row["retire_after"] > now}


def issuer() -> SessionIssuer:
    return SessionIssuer("https://id.kutamo.test", TTL, rotation=ROTATION)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def verify(token: str, table: KeyTable, now: datetime) -> dict[str, Any]:
    """As the worker does: the key by kid from the published set, then the signature and claims."""
    jwk = table.published(now)[kid_of(token)]
    key = jwt.PyJWK.from_dict(jwk).key
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["ES256"], audience="kutamo", options={"verify_exp": False, "verify_iat": False}
    )
    return claims


async def sign(issuing: SessionIssuer, table: KeyTable, now: datetime) -> tuple[str, datetime]:
    await issuing.publish_due(table, now)  # type: ignore[arg-type]
    return issuing.issue(user_id="u", tenant_id="t", now=now)


async def test_the_key_signing_now_and_the_next_one_are_published_before_the_first_token() -> None:
    table, issuing = KeyTable(), issuer()
    await issuing.publish_due(table, START)  # type: ignore[arg-type]

    assert len(table.published(START)) == 2
    token, _ = issuing.issue(user_id="u", tenant_id="t", now=START)
    assert kid_of(token) in table.rows
    assert verify(token, table, START)["sub"] == "u"


async def test_a_new_key_signs_each_rotation_period_and_was_published_a_period_before() -> None:
    table, issuing = KeyTable(), issuer()
    kids = []
    for day in range(4):
        now = START + day * ROTATION + timedelta(hours=1)
        token, _ = await sign(issuing, table, now)
        kids.append(kid_of(token))
        first_published = table.rows[kids[-1]]["created_at"]
        assert day == 0 or first_published <= now - ROTATION + timedelta(hours=1)
        assert verify(token, table, now)["sub"] == "u"
    assert len(set(kids)) == 4


async def test_a_token_signed_just_before_a_rotation_verifies_until_it_expires_and_not_much_longer() -> None:
    table, issuing = KeyTable(), issuer()
    last_moment = START + ROTATION - timedelta(seconds=1)
    await sign(issuing, table, START)
    old_token, expires = await sign(issuing, table, last_moment)

    new_token, _ = await sign(issuing, table, START + ROTATION)

    assert kid_of(new_token) != kid_of(old_token)
    assert verify(old_token, table, expires)["sub"] == "u"
    assert verify(new_token, table, expires)["sub"] == "u"
    retired = expires + RETIREMENT_MARGIN + timedelta(seconds=1)
    assert kid_of(old_token) not in table.published(retired)
    assert kid_of(new_token) in table.published(retired)


async def test_nothing_is_written_between_rotations() -> None:
    table, issuing = KeyTable(), issuer()
    await sign(issuing, table, START)
    calls = table.calls
    for minute in range(0, 24 * 60 - 1, 7):
        await sign(issuing, table, START + timedelta(minutes=minute))
    assert table.calls == calls
    await sign(issuing, table, START + ROTATION)
    assert table.calls == calls + 1  # only the key after next


async def test_a_process_keeps_only_the_current_and_the_next_key_in_memory() -> None:
    table, issuing = KeyTable(), issuer()
    for day in range(10):
        await sign(issuing, table, START + day * ROTATION)
    assert [k.signs_from for k in issuing.keys] == [START + 9 * ROTATION, START + 10 * ROTATION]


async def test_several_processes_each_publish_their_own_keys_and_verify_with_the_same_set() -> None:
    table = KeyTable()
    processes = [issuer() for _ in range(3)]
    tokens = []
    for n, process in enumerate(processes):
        started = START + timedelta(hours=5 * n)
        for moment in (started, started + ROTATION):
            token, expires = await sign(process, table, moment)
            tokens.append((token, expires))

    assert len({kid_of(t) for t, _ in tokens}) == 6
    assert all(verify(t, table, expires)["sub"] == "u" for t, expires in tokens)
    now = START + ROTATION + timedelta(hours=10)
    held = {key.kid for process in processes for key in process.keys}
    assert len(held) == 6  # each process: the key signing now and the next
    assert held <= set(table.published(now))


def test_a_key_not_yet_published_never_signs() -> None:
    with pytest.raises(KeyNotPublished):
        issuer().issue(user_id="u", tenant_id="t", now=START)


async def test_a_sign_in_after_the_background_missed_a_rotation_publishes_first() -> None:
    table, issuing = KeyTable(), issuer()
    await sign(issuing, table, START)
    later = START + 3 * ROTATION  # nothing published for three periods (say the database was down)

    with pytest.raises(KeyNotPublished):
        issuing.issue(user_id="u", tenant_id="t", now=later)
    token, _ = await sign(issuing, table, later)
    assert verify(token, table, later)["sub"] == "u"
