"""Every reason a sign-in is refused: stable code, HTTP status, a sentence for the person signing in,
and a hint for their IT admin. docs/errors.md lists the same table for frontend developers."""

import msgspec

from kutamo_identity.errors import SignInRefused


class Refusal(msgspec.Struct, frozen=True):
    status: int
    detail: str
    admin_hint: str | None = None


_SIGN_IN_AGAIN = "Close this window and sign in again."

CATALOGUE: dict[str, Refusal] = {
    "token_malformed": Refusal(
        401, "The sign-in did not return a Microsoft ID token Kutamo can read. " + _SIGN_IN_AGAIN
    ),
    "token_too_large": Refusal(401, "The sign-in token is larger than any Microsoft ID token. " + _SIGN_IN_AGAIN),
    "token_algorithm_not_allowed": Refusal(
        401, "The sign-in token is not signed the way Microsoft signs ID tokens. " + _SIGN_IN_AGAIN
    ),
    "signing_key_not_found": Refusal(
        401,
        "Microsoft's key for this sign-in is not known yet. Wait a few minutes and sign in again.",
        "Microsoft does not publish the key that signed this token. Right after an app registration is "
        "created or its keys change, this can take a few minutes to propagate; if it persists, check that "
        "the app registration belongs to the directory entered in Kutamo.",
    ),
    "token_signature_invalid": Refusal(401, "The sign-in token's signature does not check out. " + _SIGN_IN_AGAIN),
    "token_issuer_invalid": Refusal(
        401,
        "The sign-in token was not issued by your organisation's directory. " + _SIGN_IN_AGAIN,
        "The token's issuer does not match its own directory (tid) for its version (v1 or v2).",
    ),
    "token_audience_mismatch": Refusal(
        401,
        "This sign-in was made for another application than your organisation's Kutamo connection.",
        "The token's audience is not the Application (client) ID entered in Kutamo. Check the ID in "
        "Microsoft Entra ID > App registrations > your app > Overview, and that the login page uses it.",
    ),
    "token_expired": Refusal(401, "Your Microsoft sign-in has expired. " + _SIGN_IN_AGAIN),
    "token_not_yet_valid": Refusal(
        401,
        "Your Microsoft sign-in is not valid yet; this device's clock may be wrong. Check it and sign in again.",
        "The token's nbf or iat lies in the future beyond the allowed clock skew.",
    ),
    "token_claim_missing": Refusal(
        401,
        "The sign-in token lacks information Kutamo needs. " + _SIGN_IN_AGAIN,
        "ID tokens must carry iss, aud, sub, oid, tid, exp and iat; oid needs the openid/profile scopes.",
    ),
    "token_claim_invalid": Refusal(401, "The sign-in token carries a value Kutamo cannot accept. " + _SIGN_IN_AGAIN),
    "nonce_invalid": Refusal(
        401,
        "This sign-in does not belong to this login attempt, or was already used. Reload the login page and "
        "sign in again.",
    ),
    "access_token_malformed": Refusal(
        400,
        "The Microsoft Graph token sent with this sign-in is not one Microsoft issues. Send the access_token "
        "MSAL returned, unchanged (a JWT: 3 or 5 base64url parts, ASCII, at most 16 KiB), or leave it out.",
    ),
    "access_token_mismatch": Refusal(
        401, "The Microsoft Graph token was not issued together with this sign-in. " + _SIGN_IN_AGAIN
    ),
    "directory_not_allowed": Refusal(
        403,
        "Your account belongs to a different organisation than this login page. Sign in with your work "
        "account of this organisation (personal Microsoft accounts cannot be used).",
        "The token comes from an Azure AD directory this connection does not allow. If your organisation "
        "uses several directories, each must be verified.",
    ),
    "connection_pending_verification": Refusal(
        403,
        "Your organisation has not finished connecting Kutamo to Azure AD yet. Please contact your IT admin.",
        "Enter the Directory (tenant) ID of your Azure AD in Kutamo, or complete the verification sign-in.",
    ),
    "connection_disabled": Refusal(
        403, "Signing in to Kutamo with this organisation's link is turned off. Please contact your IT admin."
    ),
    "user_deactivated": Refusal(
        403,
        "Your account has been deactivated by your organisation, so you cannot sign in to Kutamo. If you think "
        "this is a mistake, contact your IT admin.",
        "Your Azure AD provisioning (SCIM) deactivated or deleted this person in Kutamo. Re-enable the account or "
        "assign it to the Kutamo enterprise application again; the next provisioning cycle reactivates it.",
    ),
    "verification_invalid": Refusal(
        403,
        "This verification link is not valid any more. Ask for a new verification code.",
        "Verification codes are single use and expire after an hour; create a new one.",
    ),
    "guest_not_allowed": Refusal(
        403,
        "You are signing in as a guest of this organisation (your account's home is another organisation or a "
        "personal Microsoft account). Guests cannot sign in here; use an account of this organisation itself.",
        "Guests (B2B accounts invited into your directory) are refused by default. To let them sign in, set "
        "allow_guests to true on the connection (admin API PUT /v1/tenants/{id}/azure-ad, the setup page's API, "
        "or the CLI's --allow-guests).",
    ),
    "directory_already_bound": Refusal(
        409,
        "This Azure AD directory already signs in to another Kutamo organisation with this application, so it "
        "cannot be verified here. Please contact your IT admin.",
        "Kutamo binds one (Application ID, directory) pair to one organisation. If both organisations are "
        "yours, ask Kutamo support to approve this one for the directory, then sign in with a new "
        "verification code.",
    ),
    "microsoft_unavailable": Refusal(
        503, "Microsoft's sign-in service cannot be reached right now. Wait a minute and sign in again."
    ),
}


def refuse(code: str) -> SignInRefused:
    refusal = CATALOGUE[code]
    return SignInRefused(code, refusal.detail, status=refusal.status, admin_hint=refusal.admin_hint)
