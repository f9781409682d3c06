"""An example downstream consumer of Kutamo's user events, written the way another team would write it.

It uses only aiokafka and jsonschema plus the published documents (the JSON Schema files in
contracts/src/kutamo_contracts/schemas/, which you can copy into your own repository) - none of Kutamo's
own code. Each record is a CloudEvent in binary mode: attributes in `ce_*` headers, JSON as the value,
the Kutamo user id as the key. It validates the value against the schema named by `ce_type`, skips an
event id it has seen (delivery is at least once), prints one JSON line per event, and commits offsets
only after handling a batch.

    python examples/user_events_consumer.py --bootstrap-servers 127.0.0.1:9092 \
        --group billing.user-events [--from-beginning] [--topic kutamo.identity.user-signed-in.v1 ...]
"""

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import jsonschema
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError

SCHEMAS = Path(__file__).resolve().parent.parent / "contracts" / "src" / "kutamo_contracts" / "schemas"
TOPICS = ["kutamo.identity.user-signed-in.v1", "kutamo.provisioning.user-provisioned.v1"]


def load_validators(directory: Path) -> dict[str, Any]:
    """ce_type -> a validator of its payload, from the published JSON Schema files."""
    validators: dict[str, Any] = {}
    for path in sorted(directory.glob("*.json")):
        schema = json.loads(path.read_text())
        if "x-kutamo-event-type" in schema:
            cls = jsonschema.validators.validator_for(schema)
            validators[schema["x-kutamo-event-type"]] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validators


def handle(record: Any, validators: dict[str, Any], seen: set[str]) -> dict[str, Any] | None:
    """One record -> what we print, or None for a duplicate. Never raises: a bad record is reported."""
    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
    event_id, event_type = headers.get("ce_id"), headers.get("ce_type", "")
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode() if record.key else None,
        "ce_id": event_id,
        "ce_type": event_type,
    }
    if event_id in seen:
        return None
    validator = validators.get(event_type)
    if validator is None:
        return {**line, "valid": False, "errors": [f"no published schema for ce_type {event_type!r}"]}
    try:
        payload = json.loads(record.value)
    except (TypeError, ValueError) as exc:
        return {**line, "valid": False, "errors": [f"value is not JSON: {exc}"]}
    errors = sorted(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in validator.iter_errors(payload))
    if errors:
        return {**line, "valid": False, "errors": errors}
    # In a real service, record the event id in the same database transaction as its effect.
    if event_id is not None:
        seen.add(event_id)
    return {**line, "valid": True, "payload": payload}


class ReplayFromBeginning(ConsumerRebalanceListener):  # type: ignore[misc]
    """--from-beginning: rewind each partition the first time this process is given it, even when the
    group has committed offsets (a new group with auto_offset_reset="earliest" needs no rewinding)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.rewound: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: offsets are committed after each handled batch."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        fresh = [tp for tp in assigned if tp not in self.rewound]
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)
            self.rewound.update(fresh)


async def consume(args: argparse.Namespace) -> None:
    validators = load_validators(args.schemas)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap_servers,
        group_id=args.group,
        enable_auto_commit=False,
        # Where a new group starts: "earliest" replays everything kept; "latest" only what comes next.
        auto_offset_reset="earliest" if args.from_beginning else "latest",
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    listener = ReplayFromBeginning(consumer) if args.from_beginning else None
    consumer.subscribe(args.topic, listener=listener)
    seen: set[str] = set()
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    line = handle(record, validators, seen)
                    if line is not None:
                        sys.stdout.write(json.dumps(line) + "\n")
                        sys.stdout.flush()
            if batch:
                try:
                    await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
                except CommitFailedError:
                    # The group rebalanced meanwhile: the partition's new owner gets these records
                    # again, and skips what was already applied by its ce_id.
                    sys.stderr.write("offsets not committed (the group rebalanced); the records will come again\n")
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True, help="<your team>.<your service>.user-events")
    parser.add_argument("--topic", action="append", help="topic to follow (repeatable); default: the user events")
    parser.add_argument("--from-beginning", action="store_true", help="replay everything the topics still hold")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="folder of the published JSON Schema files")
    args = parser.parse_args()
    args.topic = args.topic or TOPICS
    asyncio.run(consume(args))


if __name__ == "__main__":
    main()
