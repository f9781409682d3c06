"""Queued failures for Graph calls (throttling, server errors, slow answers), consumed in order."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

__all__ = ["Fault", "FaultQueue", "GraphEndpoint"]

GraphEndpoint = Literal["me", "photo"]


class Fault(msgspec.Struct, frozen=True, kw_only=True):
    """How the next `times` calls to one Graph endpoint misbehave.

    A 2xx status with a delay means "answer normally, but late", for client timeout tests. With `tid`
    and/or `oid` only calls whose bearer token names that directory and/or user count, so a test's
    fault never reaches another test's people on a shared emulator.
    """

    endpoint: GraphEndpoint
    status: Annotated[int, msgspec.Meta(ge=200, le=599)]
    times: Annotated[int, msgspec.Meta(ge=1)] = 1
    retry_after: Annotated[int, msgspec.Meta(ge=0)] | None = None
    delay_seconds: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0
    tid: str | None = None
    oid: str | None = None

    def applies_to(self, tid: str | None, oid: str | None) -> bool:
        return self.tid in (None, tid) and self.oid in (None, oid)


@dataclass(slots=True)
class _Pending:
    fault: Fault
    remaining: int


class FaultQueue:
    """Per-endpoint FIFO of faults; each call uses up one repetition of the fault at the head."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, deque[_Pending]] = defaultdict(deque)

    def add(self, fault: Fault) -> None:
        """Queue a fault behind any already waiting for the same endpoint."""
        self._queues[fault.endpoint].append(_Pending(fault=fault, remaining=fault.times))

    def take(self, endpoint: GraphEndpoint, tid: str | None = None, oid: str | None = None) -> Fault | None:
        """The first queued fault that applies to this call (by the caller's tid and oid), if any, counting
        the call against it."""
        queue = self._queues[endpoint]
        for pending in queue:
            if pending.fault.applies_to(tid, oid):
                pending.remaining -= 1
                if pending.remaining == 0:
                    queue.remove(pending)
                return pending.fault
        return None

    def pending(self) -> dict[str, int]:
        """How many faulty calls are still queued, per endpoint."""
        return {endpoint: sum(entry.remaining for entry in queue) for endpoint, queue in self._queues.items() if queue}

    def clear(self, tid: str | None = None) -> None:
        """Drop every queued fault, or only those scoped to one directory."""
        if tid is None:
            self._queues.clear()
            return
        for queue in self._queues.values():
            for pending in [p for p in queue if p.fault.tid == tid]:
                queue.remove(pending)
