"""Generate the published documents from the contracts: a JSON Schema per payload and one AsyncAPI 3 file.

`python -m kutamo_contracts.documents` (or `make schemas`) rewrites them in `schemas/` beside this
module, refusing a change that breaks a published schema; `--check` only reports what differs.
The tests hold the committed files to what this module generates.
"""

import argparse
import ast
import inspect
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from kutamo_contracts import events
from kutamo_contracts.catalog import CONTRACTS, Contract
from kutamo_contracts.compatibility import breaking_changes

SCHEMAS_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_FILE = "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"

Document = dict[str, Any]


class IncompatibleChange(Exception):
    """The code's payload schema breaks the published one; publish a new version instead."""


def schema_file(contract: Contract) -> str:
    return f"{contract.topic.event_type}.json"


def field_docs(struct: type[msgspec.Struct]) -> dict[str, str]:
    """The docstring written under each field in events.py (attribute docstrings are not kept at run time)."""
    tree = ast.parse(inspect.getsource(events))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == struct.__name__:
            docs: dict[str, str] = {}
            for field, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(field, ast.AnnAssign)
                    and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[field.target.id] = " ".join(after.value.value.split())
            return docs
    return {}


def payload_schema(contract: Contract) -> Document:
    """The JSON Schema (draft 2020-12) of one payload, with each field's description."""
    (ref,), definitions = msgspec.json.schema_components([contract.payload])
    name = ref["$ref"].rsplit("/", 1)[-1]
    body: Document = dict(definitions.pop(name))
    docs = field_docs(contract.payload)
    kinds = {f.name: f.type for f in msgspec.structs.fields(contract.payload)}
    for field, prop in body["properties"].items():
        if kinds.get(field) is datetime:
            prop["format"] = "date-time"
        if field in docs:
            prop["description"] = docs[field]
    document: Document = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": contract.topic.dataschema,
        **body,
        "description": " ".join(str(body.get("description", "")).split()),
        "x-kutamo-event-type": contract.topic.event_type,
        "x-kutamo-topic": contract.topic.name,
    }
    if definitions:
        document["$defs"] = definitions
    return document


def _headers(contract: Contract) -> Document:
    topic = contract.topic
    if not contract.cloudevent:
        dlq = {
            name: {"type": "string", "description": text}
            for name, text in {
                "dlq_reason": "Stable machine code of the failure (as `reason` in the value).",
                "dlq_error_class": "The worker's failure class.",
                "dlq_error_message": "A sentence for a person (at most 1,000 characters); never a token.",
                "dlq_original_topic": "Topic of the original record.",
                "dlq_original_partition": "Partition of the original record.",
                "dlq_original_offset": "Offset of the original record.",
                "dlq_attempts": "How many times the worker tried.",
                "dlq_failed_at": "When the worker gave up (RFC 3339).",
            }.items()
        }
        return {
            "type": "object",
            "properties": {
                "ce_type": {"const": topic.event_type},
                "content-type": {"const": "application/json"},
                **dlq,
            },
            "required": ["ce_type", "content-type", *dlq],
        }
    properties: Document = {
        "ce_specversion": {"const": "1.0", "description": "CloudEvents spec version."},
        "ce_id": {
            "type": "string",
            "format": "uuid",
            "description": "Unique event id, equal to the payload's `event_id`. De-duplicate on it.",
        },
        "ce_type": {"const": topic.event_type, "description": "Event type, versioned like the topic."},
        "ce_source": {"const": contract.producer, "description": "The producing service."},
        "ce_time": {"type": "string", "format": "date-time", "description": "When it happened (RFC 3339, UTC)."},
        "ce_subject": {"type": "string", "format": "uuid", "description": "The Kutamo user id (also the key)."},
        "ce_dataschema": {"const": topic.dataschema, "description": "`$id` of the payload's JSON Schema."},
        "content-type": {"const": "application/json", "description": "CloudEvents `datacontenttype`."},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the request that caused the event, when there was one.",
        },
    }
    return {"type": "object", "properties": properties, "required": [n for n in properties if n != "traceparent"]}


def _channel_id(contract: Contract) -> str:
    return contract.payload.__name__[0].lower() + contract.payload.__name__[1:]


def asyncapi() -> Document:
    """The AsyncAPI 3.0 document: one channel per topic, its message, headers, key and payload."""
    channels: Document = {}
    operations: Document = {}
    messages: Document = {}
    schemas: Document = {}
    for contract in CONTRACTS:
        name, channel = contract.payload.__name__, _channel_id(contract)
        payload = {k: v for k, v in payload_schema(contract).items() if k not in ("$schema", "$id")}
        schemas[name] = payload
        messages[name] = {
            "name": name,
            "title": name,
            "summary": payload["description"],
            "contentType": "application/json",
            "headers": _headers(contract),
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": contract.topic.key},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "externalDocs": {"url": contract.topic.dataschema, "description": "The payload's JSON Schema id"},
        }
        channels[channel] = {
            "address": contract.topic.name,
            "description": contract.topic.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "topic": contract.topic.name,
                    "partitions": contract.topic.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"receive{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Downstream services consume {contract.topic.name}.",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kutamo user events",
            "version": "1.0.0",
            "description": "Events of Kutamo Identity on Kafka, as CloudEvents 1.0 in binary content mode: "
            "attributes in `ce_*` headers, the JSON payload as the value, the Kutamo user id as the key "
            "(one user's events stay in order on one partition). Within a version, fields are only ever "
            "added, with defaults; ignore fields you do not know. Generated from kutamo_contracts.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local stack (`make run` prints the real port; docker-compose uses 9092).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def generate() -> dict[str, Document]:
    """File name -> document, for everything published."""
    documents = {schema_file(c): payload_schema(c) for c in CONTRACTS}
    documents[ASYNCAPI_FILE] = asyncapi()
    return documents


def render(document: Document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def incompatibilities(directory: Path) -> list[str]:
    """What the code's payload schemas break in the ones published in `directory`."""
    problems: list[str] = []
    for contract in CONTRACTS:
        path = directory / schema_file(contract)
        if path.exists():
            published = json.loads(path.read_text())
            problems.extend(f"{path.name}: {p}" for p in breaking_changes(published, payload_schema(contract)))
    return problems


def differences(directory: Path) -> list[str]:
    """Files in `directory` that are missing or differ from what the code generates."""
    return [
        name
        for name, document in generate().items()
        if not (directory / name).exists() or (directory / name).read_text() != render(document)
    ]


def write(directory: Path) -> list[str]:
    """Rewrite the documents; refuse (and write nothing) when a change breaks a published schema."""
    problems = incompatibilities(directory)
    if problems:
        raise IncompatibleChange("; ".join(problems))
    directory.mkdir(parents=True, exist_ok=True)
    changed = differences(directory)
    for name, document in generate().items():
        if name in changed:
            (directory / name).write_text(render(document))
    return changed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m kutamo_contracts.documents", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    parser.add_argument("--out", type=Path, default=SCHEMAS_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = differences(args.out) + incompatibilities(args.out)
        for line in stale:
            sys.stderr.write(f"out of date: {line}\n")
        return 1 if stale else 0
    try:
        changed = write(args.out)
    except IncompatibleChange as exc:
        sys.stderr.write(f"refused: {exc}\nAdd fields with defaults only, or publish a new version (v2).\n")
        return 1
    sys.stdout.write(f"{len(changed)} document(s) written to {args.out}\n" if changed else "documents up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
