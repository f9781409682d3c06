"""Validation of a Microsoft id_token for one tenant's Azure AD connection.

Order matters: cheap structural checks and directory pinning come before any key lookup, so a token
from a directory the connection does not allow never makes us call Microsoft.
"""

import base64
import hashlib
import hmac
import uuid
from typing import Any

import jwt
import msgspec

from kutamo_identity.errors import SignInRefused
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.tenants.repository import Connection

MAX_TOKEN_BYTES = 16 * 1024
REQUIRED_CLAIMS = ["iss", "aud", "sub", "oid", "tid", "exp", "iat"]
V1_ISSUER = "https://sts.windows.net/{tid}/"


class MicrosoftIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the token says the person is, once every check passed."""

    tid: str
    oid: str
    name: str | None
    email: str | None


def _refuse(code: str, detail: str, status: int = 401) -> SignInRefused:
    return SignInRefused(code, detail, status=status)


def _guid(value: object) -> str | None:
    try:
        text = str(value)
        return str(uuid.UUID(text)) if len(text) == 36 else None
    except ValueError:
        return None


def _peek(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(id_token) > MAX_TOKEN_BYTES:
        raise _refuse("token_malformed", "The id_token is too large to be a Microsoft token.")
    try:
        header = jwt.get_unverified_header(id_token)
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse(
            "token_malformed", "The id_token is not a well-formed JWT; send the id_token Microsoft returned."
        ) from None
    return header, claims


def _check_at_hash(claims: dict[str, Any], access_token: str | None) -> None:
    expected = claims.get("at_hash")
    if expected is None or access_token is None:
        return
    digest = hashlib.sha256(access_token.encode()).digest()
    actual = base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")
    if not hmac.compare_digest(actual, str(expected)):
        raise _refuse("access_token_mismatch", "The access_token was not issued together with this id_token.")


_PYJWT_ERRORS: list[tuple[type[jwt.PyJWTError], str, str]] = [
    (jwt.ExpiredSignatureError, "token_expired", "The Microsoft sign-in has expired; sign in again."),
    (
        jwt.ImmatureSignatureError,
        "token_not_yet_valid",
        "The token is not valid yet; check this device's clock.",
    ),
    (
        jwt.InvalidAudienceError,
        "token_audience_mismatch",
        "The token was issued for another application than this login code's Azure AD connection; "
        "check that the frontend uses the connection's Application ID.",
    ),
    (jwt.InvalidIssuerError, "token_issuer_mismatch", "The token was not issued by the directory it claims."),
    (jwt.MissingRequiredClaimError, "token_claim_missing", "The token lacks a claim Kutamo requires."),
    (jwt.InvalidSignatureError, "token_signature_invalid", "The token's signature does not verify."),
]


async def validate(
    id_token: str,
    *,
    connection: Connection,
    keys: SigningKeys,
    skew_seconds: int,
    nonce: str | None = None,
    access_token: str | None = None,
) -> MicrosoftIdentity:
    header, unverified = _peek(id_token)
    if header.get("alg") != "RS256":
        raise _refuse("token_algorithm_not_allowed", "Only RS256 tokens from Microsoft are accepted.")
    kid = header.get("kid")
    tid = _guid(unverified.get("tid"))
    version = unverified.get("ver")
    if not isinstance(kid, str) or tid is None or version not in ("1.0", "2.0"):
        raise _refuse(
            "token_malformed",
            "The id_token lacks kid, a GUID tid or a known ver; it is not a Microsoft id_token.",
        )
    _check_directory(connection, tid)

    key = await keys.key(tid, kid)
    if key is None:
        raise _refuse("token_signing_key_unknown", "The token is signed with a key Microsoft does not publish.")
    issuer = V1_ISSUER.format(tid=tid) if version == "1.0" else await keys.issuer(tid)
    claims = _decode(id_token, key, str(connection.application_id), issuer, skew_seconds)
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise _refuse("nonce_mismatch", "The sign-in does not match this login attempt; start the sign-in again.")
    _check_at_hash(claims, access_token)
    oid = _guid(claims.get("oid"))
    if oid is None:
        raise _refuse("token_claim_missing", "The token's oid claim is not a GUID.")
    email = claims.get("email") or claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name")
    name = claims.get("name")
    return MicrosoftIdentity(
        tid=tid,
        oid=oid,
        name=str(name) if name else None,
        email=str(email) if email else None,
    )


def _check_directory(connection: Connection, tid: str) -> None:
    if connection.status == "disabled":
        raise _refuse("connection_disabled", "Sign-in with this login code is turned off; contact your IT admin.", 403)
    if connection.directory_id is None:
        raise _refuse(
            "connection_pending_verification",
            "This organisation's Azure AD connection has no verified directory yet; "
            "your IT admin must enter the Directory (tenant) ID.",
            403,
        )
    if tid != str(connection.directory_id):
        raise _refuse(
            "directory_not_allowed",
            "Your account belongs to a different Azure AD directory than this organisation allows; "
            "sign in with your work account of this organisation.",
            403,
        )


def _decode(id_token: str, key: Any, audience: str, issuer: str, skew_seconds: int) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            leeway=skew_seconds,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.PyJWTError as exc:
        for kind, code, detail in _PYJWT_ERRORS:
            if isinstance(exc, kind):
                raise _refuse(code, detail) from None
        raise _refuse("token_invalid", "The id_token could not be verified; sign in again.") from None
    return claims
