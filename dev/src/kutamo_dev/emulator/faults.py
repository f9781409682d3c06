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

    A 2xx status with a delay means "answer normally, but late", for client timeout tests.
    """

    endpoint: GraphEndpoint
    status: Annotated[int, msgspec.Meta(ge=200, le=599)]
    times: Annotated[int, msgspec.Meta(ge=1)] = 1
    retry_after: Annotated[int, msgspec.Meta(ge=0)] | None = None
    delay_seconds: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0


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

    def take(self, endpoint: GraphEndpoint) -> Fault | None:
        """The fault that applies to this call, if any, counting the call against it."""
        queue = self._queues[endpoint]
        if not queue:
            return None
        head = queue[0]
        head.remaining -= 1
        if head.remaining == 0:
            queue.popleft()
        return head.fault

    def pending(self) -> dict[str, int]:
        """How many faulty calls are still queued, per endpoint."""
        return {endpoint: sum(entry.remaining for entry in queue) for endpoint, queue in self._queues.items() if queue}

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queues.clear()
