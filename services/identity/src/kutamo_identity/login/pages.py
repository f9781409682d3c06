"""The HTML of the pages for people, rendered from small templates; every value is escaped here."""

from html import escape
from importlib import resources
from string import Template

from kutamo_identity.signin import microsoft_errors
from kutamo_identity.signin.popup import POPUP_HELP
from kutamo_identity.tenants.repository import Connection

__all__ = ["app_page", "callback_page", "choose_page", "login_page", "setup_page"]

_TEMPLATES = resources.files("kutamo_identity.login").joinpath("templates")


def _template(name: str) -> Template:
    return Template(_TEMPLATES.joinpath(name).read_text(encoding="utf-8"))


_BASE, _LOGIN, _CHOOSE = _template("base.html"), _template("login.html"), _template("choose.html")
_CALLBACK, _APP = _template("callback.html"), _template("app.html")
_GUIDANCE, _SETUP = _template("guidance.html"), _template("setup.html")

# Errors Microsoft shows on its own page, never redirecting back: the words a person can match against
# what they saw, and the code whose guidance applies (see shared notes on Microsoft Entra).
SHOWN_BY_MICROSOFT = (
    ("Application with identifier '…' was not found in the directory", "AADSTS700016"),
    ("The redirect URI '…' specified in the request does not match", "AADSTS50011"),
    ("User account '…' from identity provider '…' does not exist in tenant", "AADSTS50020"),
    ("Application '…' is not configured as a multi-tenant application", "AADSTS50194"),
    ("Tenant '…' not found", "AADSTS90002"),
)


def _page(
    title: str, body: str, *, script: str | None = None, data: dict[str, str] | None = None, wide: bool = False
) -> str:
    attributes = " ".join(f'data-{name}="{escape(value)}"' for name, value in (data or {}).items())
    tag = f'<script type="module" src="/assets/{script}"></script>' if script else ""
    card = "card wide" if wide else "card"
    return _BASE.substitute(title=escape(title), body=body, script=tag, data=attributes, card=card)


def _popup_help() -> str:
    return "\n".join(
        f'  <p class="browser" data-browser="{escape(name)}" hidden>{escape(text)}</p>'
        for name, text in POPUP_HELP.items()
    )


def _shown_by_microsoft(redirect_uri: str) -> str:
    items = []
    for words, code in SHOWN_BY_MICROSOFT:
        found = microsoft_errors.guidance("unknown", code, [])
        admin = found.admin_hint or ""
        if code in microsoft_errors.ABOUT_REDIRECT_URI:
            admin += f" The redirect URI to register: {redirect_uri}"
        detail = "Ask your IT admin to fix this." if found.detail == microsoft_errors.ASK_ADMIN else found.detail
        items.append(
            f"    <dt>“{escape(words)}” ({code})</dt>\n    <dd>{escape(detail)}"
            f'<span class="for-admin">For your IT admin: {escape(admin)}</span></dd>'
        )
    return "\n".join(items)


def _guidance(site: str, redirect_uri: str) -> str:
    """What the login page and the setup page's test sign-in show when sign-in goes wrong."""
    return _GUIDANCE.substitute(
        site=escape(site), popup_help=_popup_help(), shown_by_microsoft=_shown_by_microsoft(redirect_uri)
    )


def login_page(
    connection: Connection, *, site: str, app_url: str, popup_timeout_seconds: int, redirect_uri: str
) -> str:
    """The organisation's login page; the note is shown exactly as entered, as text."""
    notice = ""
    if connection.status == "pending_verification":
        notice = (
            '<p class="notice" id="pending">This organisation\'s Microsoft sign-in is being set up. Only its IT '
            "admin's verification sign-in works until then.</p>"
        )
    body = _LOGIN.substitute(
        organisation=escape(connection.tenant_name),
        notice=notice,
        note=escape(connection.user_note or ""),
        note_hidden="" if connection.user_note else " hidden",
        guidance=_guidance(site, redirect_uri),
    )
    data = {
        "login-code": connection.login_code,
        "app-url": app_url,
        "popup-timeout": str(popup_timeout_seconds),
    }
    return _page(f"Sign in to {connection.tenant_name} — Kutamo", body, script="login.js", data=data)


def choose_page(*, example: str, unknown_code: str | None = None) -> str:
    """Ask for the organisation's login code; with `unknown_code`, say that it matched no organisation."""
    if unknown_code is None:
        heading, message, value = "Sign in to Kutamo", "", ""
    else:
        heading, value = "We don't know this login code", unknown_code
        message = (
            f'<p class="problem" role="alert">No organisation uses the login code “{escape(unknown_code)}”. '
            "Check the link your IT admin sent you, or ask them for your organisation's login code.</p>"
        )
    body = _CHOOSE.substitute(heading=heading, message=message, example=escape(example), value=escape(value))
    return _page(heading + " — Kutamo", body)


def callback_page() -> str:
    """Microsoft's redirect target: the script hands the result to the page that started the sign-in."""
    return _page("Signing you in — Kutamo", _CALLBACK.substitute(), script="callback.js")


def app_page(*, users_api: str | None) -> str:
    """The stand-in for the Kutamo app in the local stack: who is signed in, as the worker provisioned them."""
    return _page("Kutamo", _APP.substitute(), script="app.js", data={"users-api": users_api or ""})


def setup_page(
    *, site: str, redirect_uri: str, scim_url: str, popup_timeout_seconds: int, users_api: str | None
) -> str:
    """The IT admin's guided setup; its data comes from /setup/api once the setup link is exchanged."""
    body = _SETUP.substitute(
        redirect_uri=escape(redirect_uri), scim_url=escape(scim_url), guidance=_guidance(site, redirect_uri)
    )
    data = {"popup-timeout": str(popup_timeout_seconds), "users-api": users_api or ""}
    return _page("Set up Microsoft sign-in — Kutamo", body, script="setup.js", data=data, wide=True)
