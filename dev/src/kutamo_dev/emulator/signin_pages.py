"""The HTML of Microsoft's interactive pages: account picker, consent, and the error page.

No script at all: plain forms post back to the emulator. Ids and field names copy Microsoft's where
browser tests commonly use them. Selectors:
    picker   h1#title "Pick an account" ("Sign in" when nobody is listed);
             tiles `#pick-account button.account[data-test-id="<upn>"]` (name=account, value "tid:oid");
             "Use another account": `#i0116` (name=loginfmt, type=email, label "Email, phone, or Skype"),
             `#idSIButton9` "Next", message in `#usernameError`; hidden `flowToken` in each form
    consent  h1#title "Permissions requested", `#app-name`, `#permissions li`,
             `#idSIButton9` "Accept" and `#idBtn_Back` "Cancel" (name=decision, accept|cancel)
    error    `#error-intro`, `#error-message[data-error-code="nnnn"]` ("AADSTSnnnn: ..."),
             `#request-id`, `#correlation-id`, `#timestamp`
Everything that came from a request or a registration is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from litestar import Response
from litestar.enums import MediaType

from kutamo_dev.emulator.aadsts import AadError, Trace
from kutamo_dev.emulator.directory import User

__all__ = ["CONSENT_PERMISSIONS", "PAGE_HEADERS", "consent_page", "error_page", "html", "picker_page"]

CONSENT_PERMISSIONS = ("Sign you in and read your profile", "View your email address", "View your basic profile")
_STYLE = (
    "body{font-family:'Segoe UI',sans-serif;background:#f2f2f2;margin:0}"
    "main{background:#fff;max-width:440px;margin:48px auto;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}"
    "h1{font-size:24px;font-weight:600}ul{list-style:none;padding:0}"
    ".account{display:block;width:100%;text-align:left;padding:12px;margin:4px 0;border:0;background:#f8f8f8}"
    ".account span{display:block}.upn{color:#666}#usernameError{color:#e81123}"
    "input[type=email]{width:100%;padding:6px 0;border:0;border-bottom:1px solid #666;font-size:15px}"
    "button.primary{background:#0067b8;color:#fff;border:0;padding:6px 24px;margin-top:16px}"
    "dl{font-size:13px;color:#555}dt{font-weight:600}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# As on login.microsoftonline.com: COOP same-origin cuts a popup off from its opener, on purpose.
PAGE_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # No form-action: browsers apply it to the redirect after a post, which goes to the app.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


def html(body: str, status_code: int = 200) -> Response[str]:
    """A login page response with Microsoft's headers."""
    return Response(content=body, status_code=status_code, media_type=MediaType.HTML, headers=PAGE_HEADERS)


def _layout(main: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Sign in to your account</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="logo">Microsoft</div>{main}</main></body></html>\n'
    )


def _flow_field(flow_token: str) -> str:
    return f'<input type="hidden" name="flowToken" value="{escape(flow_token)}">'


def error_page(error: AadError, trace: Trace) -> str:
    """Microsoft's "having trouble signing you in" page with the AADSTS message and trace ids."""
    headline = escape(error.headline)
    return _layout(
        '<h1 id="error-title">Sign in</h1>'
        '<p id="error-intro">Sorry, but we\u2019re having trouble signing you in.</p>'
        f'<p id="error-message" data-error-code="{error.code}">{headline}</p>'
        '<section id="troubleshooting"><h2>Troubleshooting details</h2><dl>'
        f'<dt>Request Id</dt><dd id="request-id">{escape(trace.trace_id)}</dd>'
        f'<dt>Correlation Id</dt><dd id="correlation-id">{escape(trace.correlation_id)}</dd>'
        f'<dt>Timestamp</dt><dd id="timestamp">{escape(trace.timestamp)}</dd>'
        f'<dt>Message</dt><dd id="error-detail">{headline}</dd>'
        "</dl></section>"
    )


def _account_button(user: User) -> str:
    value = escape(f"{user.tid}:{user.oid}")
    upn = escape(user.user_principal_name)
    return (
        f'<li><button type="submit" class="account" name="account" value="{value}" data-test-id="{upn}">'
        f'<span class="name">{escape(user.display_name)}</span><span class="upn">{upn}</span></button></li>'
    )


def picker_page(action: str, flow_token: str, users: list[User], login_hint: str | None, message: str | None) -> str:
    """The "Pick an account" page: one button per listed person, and a field to type any other account."""
    title = "Pick an account" if users else "Sign in"
    listed = ""
    if users:
        buttons = "".join(_account_button(user) for user in users)
        listed = (
            f'<form id="pick-account" method="post" action="{escape(action)}">{_flow_field(flow_token)}'
            f'<ul id="accounts">{buttons}</ul></form>'
        )
    error = f'<div id="usernameError" role="alert">{escape(message)}</div>' if message else ""
    return _layout(
        f'<h1 id="title">{title}</h1>{listed}'
        f'<form id="use-another-account" method="post" action="{escape(action)}">{_flow_field(flow_token)}'
        "<h2>Use another account</h2>"
        '<label for="i0116">Email, phone, or Skype</label>'
        f'<input type="email" id="i0116" name="loginfmt" value="{escape(login_hint or "")}" autocomplete="username">'
        f'{error}<button type="submit" id="idSIButton9" class="primary">Next</button></form>'
    )


def consent_page(action: str, flow_token: str, app_name: str, user: User) -> str:
    """The "Permissions requested" page: what the app may do, for this person, with Accept and Cancel."""
    permissions = "".join(f"<li>{escape(permission)}</li>" for permission in CONSENT_PERMISSIONS)
    return _layout(
        f'<p class="upn" id="signed-in-as">{escape(user.user_principal_name)}</p>'
        '<h1 id="title">Permissions requested</h1>'
        f'<p id="app-name">{escape(app_name)}</p><p>unverified</p>'
        "<p>This app would like to:</p>"
        f'<ul id="permissions">{permissions}</ul>'
        f'<form id="consent" method="post" action="{escape(action)}">{_flow_field(flow_token)}'
        '<button type="submit" id="idBtn_Back" name="decision" value="cancel">Cancel</button> '
        '<button type="submit" id="idSIButton9" name="decision" value="accept" class="primary">Accept</button>'
        "</form>"
    )
