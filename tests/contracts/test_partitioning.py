"""The partition key rule is Kafka's own: a user's records land where any Kafka producer would put them."""

import os

import pytest
from aiokafka.partitioner import DefaultPartitioner

from kutamo_contracts.partitioning import murmur2, partition_for

# Kafka's own test vectors for Utils.murmur2 (signed 32-bit results, as Java returns them).
JAVA = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "expected"), JAVA.items())
def test_murmur2_matches_kafka(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected & 0xFFFFFFFF


def test_partition_for_agrees_with_the_default_partitioner_for_every_key_length() -> None:
    partitioner = DefaultPartitioner()
    for length in range(0, 64):
        for _ in range(40):
            key = os.urandom(length)
            for count in (1, 3, 6, 7):
                every = list(range(count))
                assert partition_for(key, count) == partitioner(key, every, every), (key, count)
