"""Which waiting rows may leave now, given the head of the outbox in id order (see relay.py).

A row leaves once its transaction is below the horizon (`settled`: older than every transaction still
running), except while an earlier row of the same key is not: the same user's earlier event always
has the lower id, so holding the later one back keeps the user's events in order even when the
transaction ids were handed out the other way.
"""

from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["leaving"]


class _Row(Protocol):
    @property
    def key(self) -> bytes: ...

    @property
    def settled(self) -> bool: ...


R = TypeVar("R", bound=_Row)


def leaving(head: Iterable[R]) -> list[R]:
    """The rows of `head` (in id order) that may be published now."""
    held: set[bytes] = set()
    ready = []
    for row in head:
        if not row.settled:
            held.add(row.key)
        elif row.key not in held:
            ready.append(row)
    return ready
