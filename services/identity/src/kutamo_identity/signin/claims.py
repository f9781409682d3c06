"""Pure rules for the claims of a Microsoft id_token, once its signature has been verified."""

import base64
import hashlib
import hmac
import re
from typing import Any

import msgspec

from kutamo_identity.signin.refusals import refuse

REQUIRED = ("iss", "aud", "sub", "oid", "tid", "exp", "iat")
V1_ISSUER = "https://sts.windows.net/{tid}/"


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def guid(value: object) -> str | None:
    """The canonical lower-case form of a GUID written with dashes, or None."""
    if isinstance(value, str) and _GUID.fullmatch(value):
        return value.lower()
    return None


def check_times(claims: dict[str, Any], now: float, skew: int) -> None:
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise refuse("token_claim_invalid")
    if now > claims["exp"] + skew:
        raise refuse("token_expired")
    if claims.get("nbf", 0) > now + skew or claims["iat"] > now + skew:
        raise refuse("token_not_yet_valid")


def check_required(claims: dict[str, Any]) -> None:
    if any(name not in claims or claims[name] in (None, "") for name in REQUIRED):
        raise refuse("token_claim_missing")
    if not isinstance(claims["sub"], str) or guid(claims["oid"]) is None:
        raise refuse("token_claim_invalid")


def check_audience(claims: dict[str, Any], application_id: str) -> None:
    # Microsoft id_tokens carry one audience, the client id; a list or another value is refused.
    if not isinstance(claims["aud"], str) or not hmac.compare_digest(claims["aud"].lower(), application_id):
        raise refuse("token_audience_mismatch")


def check_issuer(claims: dict[str, Any], version: str, tid: str, v2_issuer: str) -> None:
    issuer = V1_ISSUER.format(tid=tid) if version == "1.0" else v2_issuer
    if claims["iss"] != issuer:
        raise refuse("token_issuer_invalid")


def check_nonce(claims: dict[str, Any], nonce: str) -> None:
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise refuse("nonce_invalid")


def check_at_hash(claims: dict[str, Any], access_token: str | None) -> None:
    """An implicit-flow id_token names the access token issued with it; a swapped token is refused."""
    expected = claims.get("at_hash")
    if expected is None or access_token is None:
        return
    digest = hashlib.sha256(access_token.encode()).digest()
    actual = base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")
    if not isinstance(expected, str) or not hmac.compare_digest(actual, expected):
        raise refuse("access_token_mismatch")


class Email(msgspec.Struct, frozen=True, kw_only=True):
    """The address a token names, which claim it came from, and whether Microsoft says it is verified."""

    address: str | None = None
    source: str | None = None
    """`email`, `preferred_username`, `upn` or `unique_name`; None when the token names no address."""
    verified: bool = False
    """Only `xms_edov` (the email domain's owner verified it) makes it true, and only for `email`."""


def email_of(claims: dict[str, Any]) -> Email:
    """Informative only, never an identity key: email, else the v2/v1 user names."""
    for name in ("email", "preferred_username", "upn", "unique_name"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            verified = name == "email" and claims.get("xms_edov") in (True, 1, "1", "true", "True")
            return Email(address=value, source=name, verified=verified)
    return Email()


def is_guest(claims: dict[str, Any], tid: str) -> bool:
    """A B2B guest: an account whose home is another directory or a personal account (`idp` names another
    issuer than this directory's, e.g. `live.com` or `https://sts.windows.net/<home tid>/`), or `acct` = 1."""
    if claims.get("acct") in (1, "1"):
        return True
    idp = claims.get("idp")
    if idp is None:
        return False
    return idp not in (claims.get("iss"), V1_ISSUER.format(tid=tid), f"https://login.microsoftonline.com/{tid}/v2.0")
