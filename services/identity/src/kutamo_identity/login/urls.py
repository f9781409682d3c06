"""Where the login pages live; the one place that spells their paths."""

__all__ = ["ASSETS_PATH", "CALLBACK_PATH", "callback_url", "login_url"]

CALLBACK_PATH = "/login/callback"
ASSETS_PATH = "/assets"


def callback_url(public_base_url: str) -> str:
    """The redirect URI every connection registers: one same-origin callback page for both flows."""
    return public_base_url + CALLBACK_PATH


def login_url(public_base_url: str, login_code: str) -> str:
    """The organisation's login page, the link an IT admin shares with their people."""
    return f"{public_base_url}/login/{login_code}"
