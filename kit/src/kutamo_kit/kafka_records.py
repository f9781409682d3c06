"""A Kafka record batch as aiokafka's producer builds it (`create_batch`) and sends it (`send_batch`).

Both calls are aiokafka's public "direct batch control" API, but the class they hand around lives in
aiokafka's internals (`aiokafka.producer.message_accumulator.BatchBuilder`) and aiokafka ships no types:
the code names a batch by this protocol of the methods it calls instead of importing that module.
tests/unit/test_kafka_records.py fails, saying what changed, when aiokafka's batches stop matching it.
"""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["RecordBatch"]


@runtime_checkable
class RecordBatch(Protocol):
    def append(
        self, *, timestamp: float | None, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> object | None:
        """Add a record; None when the batch is full (or closed) and the record was not added."""

    def close(self) -> None:
        """Take no more records."""
