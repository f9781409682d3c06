"""Outbox rows as Kafka record batches: one per partition (more when one fills up), rows in order
within each, every key on the partition Kafka's default partitioner would pick, so the relay's
records land where any other producer's would."""

from collections.abc import Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from kutamo_contracts.partitioning import partition_for
from kutamo_kit.kafka_records import RecordBatch
from kutamo_kit.outbox.table import Pending

__all__ = ["Batch", "Batcher"]

_CACHED_KEYS = 200_000


class Batch(NamedTuple):
    topic: str
    partition: int
    builder: RecordBatch


class Batcher:
    """Builds the batches; remembers each topic's partitions and each key's partition (the contracts'
    rule, Kafka's default partitioner) until `forget`, which a new producer calls for."""

    def __init__(self) -> None:
        self._partitions: dict[str, list[int]] = {}
        self._key_partitions: dict[tuple[str, bytes], int] = {}

    def forget(self) -> None:
        self._partitions.clear()
        self._key_partitions.clear()

    async def build(self, producer: AIOKafkaProducer, rows: Sequence[Pending]) -> list[Batch]:
        for topic in {row.topic for row in rows} - self._partitions.keys():
            self._partitions[topic] = sorted(await producer.partitions_for(topic))
        per_partition: dict[tuple[str, int], list[Pending]] = {}
        for row in rows:
            per_partition.setdefault((row.topic, self._partition(row.topic, row.key)), []).append(row)
        batches = []
        for (topic, partition), members in per_partition.items():
            batch = producer.create_batch()
            for row in members:
                if batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers) is None:
                    batches.append(Batch(topic, partition, batch))
                    batch = producer.create_batch()
                    batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers)
            batches.append(Batch(topic, partition, batch))
        return batches

    def _partition(self, topic: str, key: bytes) -> int:
        cached = self._key_partitions.get((topic, key))
        if cached is None:
            if len(self._key_partitions) > _CACHED_KEYS:
                self._key_partitions.clear()
            every = self._partitions[topic]
            cached = every[partition_for(key, len(every))]
            self._key_partitions[(topic, key)] = cached
        return cached
