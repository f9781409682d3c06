"""The directory's RSA signing keys and their JWKS form, shaped like Microsoft's published key sets."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = ["KeyRing", "SigningKey", "b64url", "generate_signing_key"]

_CERT_SUBJECT = "accounts.accesscontrol.windows.net"
_CERT_VALIDITY = dt.timedelta(days=5 * 365)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA key with the self-signed certificate Microsoft publishes beside it (`x5c`)."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate_der: bytes

    def public_jwk(self, issuer: str | None) -> dict[str, Any]:
        """The key as Microsoft lists it: no `alg`, `x5t` equal to `kid`, `issuer` only in v2 sets."""
        numbers = self.private_key.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
            "x5c": [base64.b64encode(self.certificate_der).decode("ascii")],
        }
        if issuer is not None:
            jwk["issuer"] = issuer
        return jwk


def generate_signing_key() -> SigningKey:
    """A fresh RSA-2048 key; its kid is the certificate thumbprint, as Microsoft's kids are."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CERT_SUBJECT)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _CERT_VALIDITY)
        .sign(private_key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    # SHA-1 here is the x5t thumbprint format fixed by RFC 7515, not a security choice.
    kid = b64url(hashlib.sha1(der, usedforsecurity=False).digest())
    return SigningKey(kid=kid, private_key=private_key, certificate_der=der)


def _unusable_jwk() -> dict[str, Any]:
    """An EC encryption key: published so clients prove they skip keys they cannot verify RS256 with."""
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "use": "enc",
        "kid": f"emulator-enc-{secrets.token_hex(4)}",
        "crv": "P-256",
        "x": b64url(public.x.to_bytes(32, "big")),
        "y": b64url(public.y.to_bytes(32, "big")),
    }


class KeyRing:
    """The published signing keys: one signs new tokens, the others stay valid for tokens already out."""

    def __init__(self) -> None:
        # Microsoft publishes several valid keys at once; start with a current and a second one.
        self._current = generate_signing_key()
        self._published: list[SigningKey] = [self._current, generate_signing_key()]
        self._unusable = _unusable_jwk()

    @property
    def current(self) -> SigningKey:
        """The key that signs newly minted id_tokens."""
        return self._current

    @property
    def published_kids(self) -> list[str]:
        """Kids of the RSA keys currently listed in the key set."""
        return [key.kid for key in self._published]

    def rotate(self, *, drop_old: bool) -> SigningKey:
        """Sign with a new key from now on; keep the old ones published unless told to drop them."""
        new_key = generate_signing_key()
        self._published = [new_key] if drop_old else [new_key, *self._published]
        self._current = new_key
        return new_key

    def jwks(self, issuer: str | None) -> dict[str, Any]:
        """The key set document; `issuer` is set on each key for v2 sets and omitted for v1."""
        keys = [key.public_jwk(issuer) for key in self._published]
        keys.append(dict(self._unusable))
        return {"keys": keys}
