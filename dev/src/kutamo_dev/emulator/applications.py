"""App registrations as an Entra ID admin makes them, and the consents people have given to them.

A registration is invisible (AADSTS700016) until `propagation_delay_seconds` after it was stored,
like a fresh registration that Microsoft has not yet propagated; the state's clock decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

__all__ = ["Application", "Applications", "Consents", "RedirectUri", "Registration"]


class RedirectUri(msgspec.Struct, frozen=True, kw_only=True):
    """One redirect URI and its platform: `spa` may redeem codes cross-origin, `web` may not."""

    uri: Annotated[str, msgspec.Meta(min_length=1)]
    type: Literal["spa", "web"]


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """The control API's body for `POST /_emulator/applications`; `single` means this directory only."""

    client_id: uuid.UUID
    home_tid: uuid.UUID
    display_name: str = "Kutamo"
    sign_in_audience: Literal["single", "multi"] = "single"
    redirect_uris: list[RedirectUri] = msgspec.field(default_factory=list)
    implicit_id_tokens: bool = True
    implicit_access_tokens: bool = True
    propagation_delay_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0

    @property
    def key(self) -> str:
        """The client id as Microsoft prints it: lower-case GUID."""
        return str(self.client_id)

    def redirect_type(self, uri: str) -> Literal["spa", "web"] | None:
        """The platform `uri` is registered under (exact string match), or None when it is not."""
        return next((entry.type for entry in self.redirect_uris if entry.uri == uri), None)


@dataclass(frozen=True, slots=True)
class Registration:
    """A stored application and the moment (state clock) it was stored."""

    application: Application
    registered_at: float

    @property
    def visible_at(self) -> float:
        """When sign-in starts to find the application."""
        return self.registered_at + self.application.propagation_delay_seconds


def _client_key(client_id: str) -> str | None:
    """Normalise a client id the way Microsoft compares them (GUIDs, case-insensitive)."""
    try:
        return str(uuid.UUID(client_id))
    except ValueError:
        return None


class Applications:
    """In-memory app registrations, keyed by client id."""

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}

    def put(self, application: Application, now: float) -> Registration:
        """Store or replace a registration; replacing restarts its propagation delay."""
        registration = Registration(application=application, registered_at=now)
        self._registrations[application.key] = registration
        return registration

    def registration(self, client_id: str) -> Registration | None:
        """The stored registration whether or not it has propagated yet (for the control API)."""
        key = _client_key(client_id)
        return None if key is None else self._registrations.get(key)

    def find(self, client_id: str, now: float) -> Application | None:
        """The application as sign-in sees it: None while unknown or still propagating."""
        registration = self.registration(client_id)
        if registration is None or now < registration.visible_at:
            return None
        return registration.application

    def clear(self) -> None:
        """Forget every registration."""
        self._registrations.clear()


class Consents:
    """Which people have consented to which applications, keyed (tid, oid, client_id)."""

    def __init__(self) -> None:
        self._given: set[tuple[str, str, str]] = set()

    def give(self, tid: str, oid: str, client_id: str) -> None:
        """Remember that this person accepted this application's permissions."""
        self._given.add((tid, oid, client_id))

    def given(self, tid: str, oid: str, client_id: str) -> bool:
        """Whether this person consented to this application before."""
        return (tid, oid, client_id) in self._given

    def clear(self) -> None:
        """Forget every consent."""
        self._given.clear()
