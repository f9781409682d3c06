"""Validation of a Microsoft id_token for one tenant's Azure AD connection.

Order matters. Size and structure come first (each segment strictly base64url, see compact.py);
directory pinning comes before any key lookup, so a token from a directory the connection does not
allow never makes us call Microsoft. The key is
chosen by `kid` from the token's own directory only; header fields that point at key material (`jku`,
`x5u`, `jwk`, `x5c`) are never read. The signature (RS256 only) is verified over the exact bytes whose
claims are then checked, so the token is parsed once.
"""

from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kutamo_identity.signin import claims as rules
from kutamo_identity.signin import compact
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.signin.refusals import refuse
from kutamo_identity.tenants.repository import Connection

MAX_TOKEN_BYTES = 16 * 1024
PERSONAL_ACCOUNTS_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"

_json = msgspec.json.Decoder(dict[str, Any])


class MicrosoftIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the token says the person is, once every check passed."""

    tid: str
    oid: str
    name: str | None
    email: rules.Email


class Expectations(msgspec.Struct, frozen=True, kw_only=True):
    """What this sign-in must match besides the connection."""

    nonce: str
    access_token: str | None = None
    skew_seconds: int = 120
    verifying: bool = False
    """A verification sign-in: the connection has no directory yet and this sign-in will pin one."""


def _b64(part: str) -> bytes:
    try:
        return compact.b64url(part)
    except ValueError:
        raise refuse("token_malformed") from None


def _split(id_token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if len(id_token) > MAX_TOKEN_BYTES:
        raise refuse("token_too_large")
    parts = id_token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise refuse("token_malformed")
    try:
        header, payload = _json.decode(_b64(parts[0])), _json.decode(_b64(parts[1]))
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise refuse("token_malformed") from None
    return header, payload, id_token[: len(parts[0]) + 1 + len(parts[1])].encode(), _b64(parts[2])


def _check_directory(connection: Connection, tid: str, verifying: bool) -> None:
    if connection.status == "disabled":
        raise refuse("connection_disabled")
    if connection.directory_id is None:
        proposed = connection.proposed_directory_id
        if verifying and tid != PERSONAL_ACCOUNTS_TID and proposed in (None, tid):
            return
        raise refuse("directory_not_allowed" if verifying else "connection_pending_verification")
    if tid != connection.directory_id:
        raise refuse("directory_not_allowed")


_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def _verify_signature(key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes) -> None:
    try:
        key.verify(signature, signing_input, _PKCS1, _SHA256)
    except InvalidSignature:
        raise refuse("token_signature_invalid") from None


async def validate(
    id_token: str, *, connection: Connection, keys: SigningKeys, expect: Expectations, now: float
) -> MicrosoftIdentity:
    header, claims, signing_input, signature = _split(id_token)
    if header.get("alg") != "RS256":
        raise refuse("token_algorithm_not_allowed")
    kid, version, tid = header.get("kid"), claims.get("ver"), rules.guid(claims.get("tid"))
    if not isinstance(kid, str) or not kid or len(kid) > 128 or version not in ("1.0", "2.0"):
        raise refuse("token_malformed")
    if tid is None:
        raise refuse("token_claim_missing" if "tid" not in claims else "token_malformed")
    _check_directory(connection, tid, expect.verifying)

    key, v2_issuer = await keys.lookup(tid, kid)
    if key is None:
        raise refuse("signing_key_not_found")
    _verify_signature(key, signing_input, signature)

    rules.check_required(claims)
    rules.check_times(claims, now, expect.skew_seconds)
    rules.check_issuer(claims, version, tid, v2_issuer)
    rules.check_audience(claims, connection.application_id)
    rules.check_nonce(claims, expect.nonce)
    rules.check_at_hash(claims, expect.access_token)
    if not connection.allow_guests and rules.is_guest(claims, tid):
        raise refuse("guest_not_allowed")
    name = claims.get("name")
    return MicrosoftIdentity(
        tid=tid,
        oid=rules.guid(claims["oid"]) or "",
        name=name if isinstance(name, str) and name else None,
        email=rules.email_of(claims),
    )
