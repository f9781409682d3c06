"""Operator commands: `python -m kutamo_provisioning dead-letters list|replay [--offset N]` (and `migrate`,
in __main__).

Only KAFKA_BOOTSTRAP_SERVERS is needed. `list` prints one JSON line per dead letter (never the
value, which may hold a sealed token); `replay` re-publishes to the original topic, where event ids
make a replay of something already applied harmless.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping

from kutamo_provisioning import deadletters


async def _list(bootstrap: str) -> int:
    async for offset, letter in deadletters.read_all(bootstrap):
        line = {
            "offset": offset, "reason": letter.reason, "error_class": letter.error_class, "detail": letter.detail,
            "topic": letter.topic, "partition": letter.partition, "original_offset": letter.offset,
            "key": letter.key, "attempts": letter.attempts, "failed_at": letter.failed_at.isoformat(),
        }  # fmt: skip
        sys.stdout.write(json.dumps(line) + "\n")
    return 0


async def _replay(bootstrap: str, offset: int | None) -> int:
    replayed = await deadletters.replay(bootstrap, offset)
    sys.stdout.write(json.dumps({"replayed_offsets": replayed}) + "\n")
    if offset is not None and not replayed:
        sys.stderr.write(f"no dead letter at offset {offset}\n")
        return 1
    return 0


def main(argv: list[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m kutamo_provisioning")
    commands = parser.add_subparsers(dest="group", required=True)
    letters = commands.add_parser("dead-letters", help="list or replay dead letters").add_subparsers(
        dest="action", required=True
    )
    letters.add_parser("list", help="one JSON line per dead letter")
    replay = letters.add_parser("replay", help="re-publish dead letters to their original topic")
    replay.add_argument("--offset", type=int, help="only the dead letter at this offset")
    args = parser.parse_args(argv)
    bootstrap = environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not bootstrap:
        sys.stderr.write("kutamo-provisioning: configuration error: KAFKA_BOOTSTRAP_SERVERS is required\n")
        return 2
    if args.action == "list":
        return asyncio.run(_list(bootstrap))
    return asyncio.run(_replay(bootstrap, args.offset))
