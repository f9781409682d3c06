"""Building blocks of the token corpus: real Microsoft-shaped tokens from the emulator, and tokens an
attacker could craft from them (re-signed, re-headed, truncated)."""

import base64
import json
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import login_page
from tests.support.tenants import Tenant

ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def resign(
    token: str,
    *,
    key: Any = ATTACKER_RSA,
    alg: str = "RS256",
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """The token's claims (changed as asked) under a new header, signed by a key the attacker holds."""
    old_header, payload, _ = parts(token)
    new_header = {**old_header, "alg": alg, **(header or {})}
    extra = {k: v for k, v in new_header.items() if k not in ("alg", "typ") and v is not None}
    return jwt.encode({**payload, **(claims or {})}, key, algorithm=alg, headers=extra)


def unsigned(token: str) -> str:
    header, payload, _ = parts(token)
    return f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(json.dumps(payload).encode())}."


def tampered_payload(token: str, **changes: Any) -> str:
    """Claims changed, the original Microsoft signature kept."""
    header, payload, signature = token.split(".")
    claims = {**json.loads(unb64(payload)), **changes}
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def flipped_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def attacker_certificate_chain() -> list[str]:
    """An x5c value carrying the attacker's own public key (a bare DER key stands in for a certificate)."""
    der = ATTACKER_RSA.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [base64.b64encode(der).decode()]


def attacker_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(ATTACKER_RSA.public_key()))
    return jwk


async def published_public_pem(http: httpx.AsyncClient, emulator_url: str, tid: str, kid: str) -> bytes:
    """Microsoft's public key as PEM: what an attacker feeds to HS256 in the algorithm-confusion attack."""
    keys = (await http.get(f"{emulator_url}/{tid}/discovery/v2.0/keys")).json()["keys"]
    jwk = next(k for k in keys if k.get("kid") == kid)
    public = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public, rsa.RSAPublicKey)
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Attempt:
    """One sign-in attempt at a tenant's login code: a fresh nonce, a person, a Microsoft token."""

    def __init__(self, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant) -> None:
        self.http = http
        self.identity = identity
        self.microsoft = microsoft
        self.tenant = tenant

    async def nonce(self, tenant: Tenant | None = None) -> str:
        page = await login_page(self.http, self.identity, (tenant or self.tenant).login_code)
        return str(page["nonce"])

    async def person(self, directory: str | None = None, mail: str = "eve@contoso.com", oid: str | None = None) -> str:
        user = await self.microsoft.add_user(
            directory or self.tenant.directory_id, name="Eve Adams", mail=mail, title="Tester", oid=oid
        )
        return str(user["oid"])

    async def tokens(
        self,
        nonce: str,
        *,
        directory: str | None = None,
        client_id: str | None = None,
        oid: str | None = None,
        **mint: Any,
    ) -> dict[str, Any]:
        tid = directory or self.tenant.directory_id
        who = oid or await self.person(tid)
        return await self.microsoft.tokens(tid, who, client_id or self.tenant.application_id, nonce=nonce, **mint)

    async def post(
        self, id_token: str, nonce: str, *, access_token: str | None = None, login_code: str | None = None
    ) -> httpx.Response:
        body = {"login_code": login_code or self.tenant.login_code, "id_token": id_token, "nonce": nonce}
        if access_token is not None:
            body["access_token"] = access_token
        return await self.http.post(f"{self.identity.url}/v1/sign-ins", json=body)


def new_guid() -> str:
    return str(uuid.uuid4())
