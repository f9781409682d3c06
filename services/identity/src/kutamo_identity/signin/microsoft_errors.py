"""Plain guidance for the errors Microsoft shows in the sign-in popup (AADSTS codes, MSAL.js errors).

The frontend posts what the popup returned; the answer tells the person what to do and their IT admin
what to fix. Unknown codes get general guidance, never an error.
"""

import re

import msgspec

_AADSTS = re.compile(r"AADSTS(\d{4,8})")


class Guidance(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    """`AADSTS<number>`, an MSAL.js error code, or `unknown`."""
    detail: str
    """For the person signing in."""
    admin_hint: str | None = None
    """For the organisation's IT admin."""
    retry: bool = False
    """Whether trying again later can succeed without anyone changing anything."""


ASK_ADMIN = "Please contact your IT admin; the message below tells them what to change."

_GUIDE: dict[str, Guidance] = {
    g.code: g
    for g in (
        Guidance(
            code="AADSTS700016",
            detail="Microsoft does not know this organisation's Kutamo app yet. If it was registered in the last "
            "few minutes, wait 5 to 20 minutes and try again; otherwise contact your IT admin.",
            admin_hint="The Application (client) ID entered in Kutamo is not registered in this directory. Check "
            "it under Microsoft Entra ID > App registrations > Overview. A new registration can take up to about "
            "20 minutes to propagate.",
            retry=True,
        ),
        Guidance(
            code="AADSTS50011",
            detail=ASK_ADMIN,
            admin_hint="The redirect URI of the login page is not registered on the app. Add it exactly under "
            "Authentication > Add a platform: as a Single-page application redirect URI for the PKCE sign-in flow, "
            "or as a Web redirect URI with 'ID tokens' and 'Access tokens' checked for the implicit flow.",
        ),
        Guidance(
            code="AADSTS65001",
            detail="You (or an admin) need to agree to share your name, email, title and picture with Kutamo. "
            "Sign in again and accept, or ask your IT admin.",
            admin_hint="Consent for the app is missing. Grant admin consent for openid, profile, email and "
            "User.Read under API permissions.",
        ),
        Guidance(
            code="AADSTS65004",
            detail="You declined to share your profile with Kutamo. Kutamo reads only your full name, email "
            "address, job title and picture, and cannot sign you in without them. To continue, sign in again and "
            "choose Accept.",
            retry=True,
        ),
        Guidance(
            code="AADSTS90094",
            detail="Your organisation requires an administrator to approve Kutamo first. " + ASK_ADMIN,
            admin_hint="User consent is restricted in this directory: grant admin consent for the app under "
            "Enterprise applications > your app > Permissions.",
        ),
        Guidance(
            code="AADSTS50020",
            detail="This account is not part of your organisation's directory. Sign in with your work account "
            "of this organisation.",
            admin_hint="The account is from another directory and is not invited as a guest. Invite it, or have "
            "the person use their account in this directory.",
        ),
        Guidance(
            code="AADSTS700054",
            detail=ASK_ADMIN,
            admin_hint="The app does not allow ID tokens from the authorize endpoint (implicit flow). Enable "
            "'ID tokens' under Authentication, or move the login page to authorization code with PKCE.",
        ),
        Guidance(
            code="AADSTS50194",
            detail=ASK_ADMIN,
            admin_hint="The app is single-tenant but the login page used the common endpoint. Enter the Directory "
            "(tenant) ID in Kutamo so the login page uses the tenant-specific authority.",
        ),
        Guidance(
            code="AADSTS9002326",
            detail=ASK_ADMIN,
            admin_hint="The login page redeems Microsoft's sign-in code from the browser, which Microsoft allows "
            "only for a redirect URI of type 'Single-page application'. Under Authentication, remove the redirect "
            "URI from the Web platform and add it under Add a platform > Single-page application.",
        ),
        Guidance(
            code="AADSTS50105",
            detail="You are not assigned to Kutamo in your organisation. Ask your IT admin for access.",
            admin_hint="'Assignment required' is on for the app: assign the user or a group under Enterprise "
            "applications > your app > Users and groups.",
        ),
        Guidance(
            code="AADSTS53003",
            detail="Your organisation's access policies blocked this sign-in (for example device or location "
            "rules). Contact your IT admin.",
            admin_hint="A Conditional Access policy blocked the sign-in; see the sign-in logs in Microsoft Entra ID.",
        ),
        Guidance(
            code="AADSTS90002",
            detail=ASK_ADMIN,
            admin_hint="The directory was not found: check the Directory (tenant) ID entered in Kutamo and that it "
            "belongs to the same cloud (global, US Government or China).",
        ),
        Guidance(
            code="popup_window_error",
            detail="Your browser blocked the Microsoft sign-in window. Allow pop-ups for this site (an icon at "
            "the right of the address bar), then sign in again.",
            retry=True,
        ),
        Guidance(
            code="empty_window_error",
            detail="The Microsoft sign-in window closed before it loaded. Allow pop-ups for this site and sign in "
            "again.",
            retry=True,
        ),
        Guidance(code="user_cancelled", detail="The sign-in window was closed. Sign in again when ready.", retry=True),
        Guidance(
            code="monitor_window_timeout",
            detail="The sign-in window took too long. Close it and sign in again.",
            retry=True,
        ),
        Guidance(
            code="interaction_in_progress",
            detail="Another sign-in window is already open. Finish or close it, then sign in again.",
            retry=True,
        ),
    )
}

KNOWN_CODES = frozenset(_GUIDE)
# Codes whose fix is registering the login page's redirect URI: the answer names it exactly.
ABOUT_REDIRECT_URI = frozenset({"AADSTS50011", "AADSTS9002326"})

_UNKNOWN = Guidance(
    code="unknown",
    detail="Microsoft could not sign you in. Try again; if it keeps happening, contact your IT admin with the "
    "error text shown.",
    admin_hint="Look up the AADSTS code in the Microsoft Entra sign-in logs for details.",
    retry=True,
)


def guidance(error: str, description: str | None, error_codes: list[int]) -> Guidance:
    """The guidance for what the popup returned: error codes first, then the AADSTS code in the text."""
    candidates = [f"AADSTS{n}" for n in error_codes]
    candidates += [f"AADSTS{m}" for m in _AADSTS.findall(description or "")]
    candidates.append(error)
    for code in candidates:
        if code in _GUIDE:
            return _GUIDE[code]
    first = next((c for c in candidates if c.startswith("AADSTS")), None)
    return msgspec.structs.replace(_UNKNOWN, code=first) if first else _UNKNOWN
