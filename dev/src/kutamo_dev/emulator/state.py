"""Everything the emulator remembers between requests, held in memory and passed to handlers by DI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from litestar.di import NamedDependency

from kutamo_dev.emulator.applications import Applications, Consents
from kutamo_dev.emulator.counters import Tally
from kutamo_dev.emulator.directory import Directory
from kutamo_dev.emulator.faults import FaultQueue
from kutamo_dev.emulator.grants import Codes, Flows
from kutamo_dev.emulator.keys import KeyRing, SigningKey, generate_signing_key

__all__ = ["Emulator", "EmulatorState"]


@dataclass(slots=True)
class EmulatorState:
    """Keys, users, app registrations, sign-ins in progress, queued faults and counters of one emulator.

    `public_url` overrides the request's own base URL in discovery documents (for proxies);
    `clock` is the seam tests use to move time.
    """

    public_url: str | None = None
    clock: Callable[[], float] = time.time
    keys: KeyRing = field(default_factory=KeyRing)
    # Graph tokens are signed by a key that is never published, as real Graph tokens are opaque.
    graph_key: SigningKey = field(default_factory=generate_signing_key)
    directory: Directory = field(default_factory=Directory)
    applications: Applications = field(default_factory=Applications)
    consents: Consents = field(default_factory=Consents)
    flows: Flows = field(default_factory=Flows)
    codes: Codes = field(default_factory=Codes)
    faults: FaultQueue = field(default_factory=FaultQueue)
    graph_calls: Tally = field(default_factory=Tally)
    discovery_hits: Tally = field(default_factory=Tally)
    # While True, discovery and key endpoints answer 503, as during a Microsoft outage.
    login_outage: bool = False

    def now(self) -> int:
        """Current time in whole epoch seconds, the unit of JWT time claims."""
        return int(self.clock())


# How handlers ask for the state: by name, declared explicitly, as Litestar 3 will require.
Emulator: TypeAlias = NamedDependency[EmulatorState]
