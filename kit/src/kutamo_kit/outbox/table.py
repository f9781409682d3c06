"""What the relay needs to know of a service's outbox: where it is, how a row becomes a Kafka record,
and what happens to a row once Kafka has it. Each service declares one `OutboxTable`; it must pickle
(the relay runs in a process of its own), so `decode` is a module-level function."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["OutboxTable", "Pending"]


class Pending(NamedTuple):
    """One waiting row as the relay handles it: its id, whether its transaction is below the horizon,
    and the record it becomes (headers as Kafka carries them)."""

    id: int
    settled: bool
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class OutboxTable:
    schema: str
    """The service's schema: the relay's search_path. The table is `outbox` (id bigserial, xid xid8)."""
    record_columns: str
    """The columns `decode` reads, as a select list."""
    decode: Callable[[Any, bool], Pending]
    """A fetched row (with `id` and `record_columns`) and whether it is settled -> the Pending record."""
    lock_id: int
    """The advisory lock that elects the one publishing relay per database."""
    channel: str
    """The NOTIFY channel writers wake the relay on."""
    keeps_published: bool = False
    """Move published rows to `outbox_published` (kept for the retention period), or delete them."""
    application_name: str = "kutamo-outbox-relay"
