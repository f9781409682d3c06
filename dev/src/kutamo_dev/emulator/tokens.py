"""Minting id_tokens (v1 and v2) and Graph access tokens whose headers and claims look like Microsoft's."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from kutamo_dev.emulator.authority import issuer_v1, issuer_v2
from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.keys import SigningKey, b64url

__all__ = [
    "GRAPH_AUDIENCES",
    "GRAPH_RESOURCE_ID",
    "GRAPH_SCOPES",
    "IdTokenRequest",
    "at_hash",
    "mint_graph_access_token",
    "mint_id_token",
    "pairwise_subject",
]

GRAPH_RESOURCE_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_AUDIENCES = (GRAPH_RESOURCE_ID, "https://graph.microsoft.com")
GRAPH_SCOPES = "User.Read openid profile email"
# Salt for pairwise subjects: fixed, so `sub` stays stable across emulator restarts like Microsoft's.
_PAIRWISE_SALT = b"kutamo-emulator-pairwise-sub"

TokenVersion = Literal["2.0", "1.0"]


def pairwise_subject(oid: str, client_id: str) -> str:
    """A per-application subject, stable for (oid, client_id), 43 characters like Microsoft's."""
    digest = hashlib.sha256(_PAIRWISE_SALT + f"|{oid}|{client_id}".encode()).digest()
    return b64url(digest)


def at_hash(access_token: str) -> str:
    """OIDC `at_hash`: the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def _opaque(length: int) -> str:
    """Random values for claims Microsoft fills with opaque data (aio, rh, uti)."""
    return b64url(secrets.token_bytes(length))


@dataclass(frozen=True, slots=True)
class IdTokenRequest:
    """Everything that shapes one id_token apart from the user and the signing key."""

    client_id: str
    version: TokenVersion
    issued_at: int
    lifetime_seconds: int
    nonce: str | None = None
    access_token: str | None = None
    extra_claims: dict[str, Any] = field(default_factory=dict)
    omit_claims: tuple[str, ...] = ()


def _v2_claims(user: User) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer_v2(user.tid),
        "name": user.display_name,
        "preferred_username": user.user_principal_name,
        "sid": str(uuid.uuid4()),
        "ver": "2.0",
    }
    if user.mail is not None:
        claims["email"] = user.mail
    return claims


def _v1_claims(user: User) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer_v1(user.tid),
        "amr": ["pwd"],
        "ipaddr": "127.0.0.1",
        "name": user.display_name,
        "unique_name": user.user_principal_name,
        "upn": user.user_principal_name,
        "ver": "1.0",
    }
    if user.given_name is not None:
        claims["given_name"] = user.given_name
    if user.family_name is not None:
        claims["family_name"] = user.family_name
    if user.mail is not None:
        claims["email"] = user.mail
    return claims


def mint_id_token(user: User, request: IdTokenRequest, key: SigningKey) -> str:
    """Sign an id_token for `user`; extra/omitted claims let tests craft tokens that must be refused."""
    claims: dict[str, Any] = {
        "aud": request.client_id,
        "iat": request.issued_at,
        "nbf": request.issued_at,
        "exp": request.issued_at + request.lifetime_seconds,
        "aio": _opaque(48),
        "oid": user.oid,
        "rh": f"0.{_opaque(40)}.",
        "sub": pairwise_subject(user.oid, request.client_id),
        "tid": user.tid,
        "uti": _opaque(16),
    }
    build = _v2_claims if request.version == "2.0" else _v1_claims
    claims.update(build(user))
    if request.nonce is not None:
        claims["nonce"] = request.nonce
    if request.access_token is not None:
        claims["at_hash"] = at_hash(request.access_token)
    claims.update(request.extra_claims)
    for name in request.omit_claims:
        claims.pop(name, None)
    headers: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": key.kid}
    if request.version == "1.0":
        headers["x5t"] = key.kid
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)


def mint_graph_access_token(user: User, client_id: str, issued_at: int, lifetime_seconds: int, key: SigningKey) -> str:
    """A delegated User.Read token for Graph, signed with a key only the emulator knows.

    Real Graph tokens are not verifiable by third parties, so clients must treat this one as opaque;
    the header `nonce` mirrors the real thing.
    """
    claims: dict[str, Any] = {
        "aud": GRAPH_RESOURCE_ID,
        "iss": issuer_v1(user.tid),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime_seconds,
        "acct": 0,
        "aio": _opaque(48),
        "amr": ["pwd"],
        "app_displayname": "Kutamo",
        "appid": client_id,
        "appidacr": "0",
        "idtyp": "user",
        "name": user.display_name,
        "oid": user.oid,
        "scp": GRAPH_SCOPES,
        "sub": pairwise_subject(user.oid, GRAPH_RESOURCE_ID),
        "tid": user.tid,
        "unique_name": user.user_principal_name,
        "upn": user.user_principal_name,
        "uti": _opaque(16),
        "ver": "1.0",
    }
    headers = {"typ": "JWT", "nonce": _opaque(32), "alg": "RS256", "x5t": key.kid, "kid": key.kid}
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
