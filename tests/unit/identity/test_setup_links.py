"""The pure parts of setup links: where the secret travels, a link's status, the per-session CSRF token."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from kutamo_identity.setup import links, sessions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_the_secret_travels_in_the_fragment_never_in_the_path_or_query() -> None:
    url = urlsplit(links.url("https://id.kutamo.com", "kut_setup_abc"))

    assert (url.path, url.query, url.fragment) == ("/setup", "", "link=kut_setup_abc")


def test_a_link_is_revoked_before_it_is_expired_and_active_until_its_expiry() -> None:
    def row(expires: datetime, revoked: datetime | None = None) -> dict[str, object]:
        return {"expires_at": expires, "revoked_at": revoked}

    assert links.status(row(NOW + timedelta(seconds=1)), NOW) == "active"
    assert links.status(row(NOW), NOW) == "expired"
    assert links.status(row(NOW - timedelta(days=1), revoked=NOW - timedelta(days=2)), NOW) == "revoked"


def test_the_csrf_token_is_per_session_and_is_neither_the_cookie_nor_its_stored_hash() -> None:
    token = sessions.csrf_token("cookie-a")
    session = sessions.SetupSession(
        link_id=uuid.uuid4(), tenant_id=uuid.uuid4(), expires_at=NOW, link_expires_at=NOW, csrf_token=token
    )

    assert token == sessions.csrf_token("cookie-a") != sessions.csrf_token("cookie-b")
    assert token not in ("cookie-a", sessions._digest("cookie-a").hex())
    assert sessions.csrf_matches(session, token)
    assert not sessions.csrf_matches(session, None)
    assert not sessions.csrf_matches(session, token.upper())
    assert not sessions.csrf_matches(session, "é" + token[1:])
