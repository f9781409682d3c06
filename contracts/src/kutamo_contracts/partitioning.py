"""The partition key rule: a record goes to Kafka's default partition for its key.

That is `toPositive(murmur2(key)) % partitions`, exactly as Kafka's Java client (and aiokafka's default
partitioner) computes it, so whoever produces a user's record (the relays, a replay command, another
team's Java producer) puts it on the same partition, and one user's events stay in order.
"""

import functools
import struct

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as an unsigned 32-bit integer."""
    length = len(data)
    h = _SEED ^ length
    body = length & ~3
    for (word,) in struct.iter_unpack("<I", data[:body]):
        k = (word * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        if tail == 3:
            h ^= data[body + 2] << 16
        if tail >= 2:
            h ^= data[body + 1] << 8
        h = ((h ^ data[body]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


@functools.lru_cache(maxsize=1 << 16)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for `key` among `partitions` (cached: users return)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
