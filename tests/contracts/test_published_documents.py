"""The JSON Schema and AsyncAPI documents downstream teams read are committed and match the code."""

import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import msgspec
import pytest

from kutamo_contracts import documents
from kutamo_contracts.catalog import CONTRACTS
from kutamo_contracts.compatibility import breaking_changes
from kutamo_contracts.envelope import encode_record
from kutamo_contracts.events import UserProvisioned, UserSignedIn
from kutamo_contracts.topics import ALL_TOPICS, USER_PROVISIONED, USER_SIGNED_IN

PUBLISHED = documents.SCHEMAS_DIR
REPO = Path(__file__).resolve().parents[2]


def test_committed_documents_are_what_the_code_generates() -> None:
    stale = documents.differences(PUBLISHED)
    assert stale == [], f"{stale} differ from the code: run `make schemas` and commit them"


def test_the_code_does_not_break_the_committed_schemas() -> None:
    assert documents.incompatibilities(PUBLISHED) == []


def _first_published(path: Path) -> dict[str, object] | None:
    """The schema as it was first committed, when this is a git checkout with history."""
    relative = path.relative_to(REPO)
    try:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", str(relative)],
            cwd=REPO, capture_output=True, text=True, check=True, timeout=30,
        ).stdout.split()  # fmt: skip
        if not added:
            return None
        shown = subprocess.run(
            ["git", "show", f"{added[-1]}:{relative}"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    loaded: dict[str, object] = json.loads(shown.stdout)
    return loaded


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.topic.event_type)
def test_every_schema_stays_compatible_with_its_first_published_version(contract: documents.Contract) -> None:
    first = _first_published(PUBLISHED / documents.schema_file(contract))
    if first is None:
        pytest.skip("not committed yet, or no git history here")
    assert breaking_changes(first, documents.payload_schema(contract)) == []


def test_every_topic_has_a_schema_and_an_asyncapi_channel_with_headers_and_key() -> None:
    spec = json.loads((PUBLISHED / documents.ASYNCAPI_FILE).read_text())
    assert spec["asyncapi"].startswith("3.")
    assert spec["servers"]["local"]["protocol"] == "kafka"
    addresses = {channel["address"]: channel for channel in spec["channels"].values()}
    assert set(addresses) == {topic.name for topic in ALL_TOPICS}
    for contract in CONTRACTS:
        assert (PUBLISHED / documents.schema_file(contract)).exists()
        (message_ref,) = addresses[contract.topic.name]["messages"].values()
        message = spec["components"]["messages"][message_ref["$ref"].rsplit("/", 1)[-1]]
        assert "ce_type" in message["headers"]["required"]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["payload"]["$ref"].startswith("#/components/schemas/")
    for operation in spec["operations"].values():
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in spec["channels"]


def test_every_field_is_described_for_downstream_readers() -> None:
    for contract in CONTRACTS:
        schema = json.loads((PUBLISHED / documents.schema_file(contract)).read_text())
        undocumented = [name for name, prop in schema["properties"].items() if not prop.get("description")]
        assert undocumented == [], f"{contract.payload.__name__}: document {undocumented} in events.py"


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((PUBLISHED / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_records_the_services_produce_validate_against_the_published_schemas() -> None:
    now = datetime.now(UTC)
    signed_in = UserSignedIn(
        event_id=str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()),
        azure_tid=str(uuid.uuid4()), azure_oid=str(uuid.uuid4()), signed_in_at=now, login_code="contoso",
    )  # fmt: skip
    provisioned = UserProvisioned(
        event_id=str(uuid.uuid4()), source_event_id=signed_in.event_id, tenant_id=signed_in.tenant_id,
        user_id=signed_in.user_id, change="created", changed_fields=["name"], name="Adele", provisioned_at=now,
    )  # fmt: skip
    for topic, event in ((USER_SIGNED_IN, signed_in), (USER_PROVISIONED, provisioned)):
        record = encode_record(
            topic, event, event_id=event.event_id, subject=event.user_id, source="urn:test", time=now
        )
        _validator(f"{topic.event_type}.json").validate(json.loads(record.value))
        assert dict(record.headers)["ce_dataschema"] == topic.dataschema.encode()


def test_a_payload_with_a_wrong_field_does_not_validate() -> None:
    validator = _validator(f"{USER_SIGNED_IN.event_type}.json")
    bad = msgspec.json.decode(b'{"event_id": "not-a-guid", "tenant_id": 3}')
    assert len(list(validator.iter_errors(bad))) >= 2


# The official AsyncAPI 3.0 JSON Schema, from npm (`@asyncapi/specs`, pinned in tests/browser/package.json;
# `make test` runs `npm ci` there): an independent check of the document we generate ourselves.
ASYNCAPI_SPECS = REPO / "tests" / "browser" / "node_modules" / "@asyncapi" / "specs"


def _asyncapi_3_validator() -> jsonschema.Draft7Validator:
    path = ASYNCAPI_SPECS / "schemas" / "3.0.0.json"
    assert path.exists(), f"{path} is missing: run `make browser` (npm ci in tests/browser)"
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def test_the_published_asyncapi_document_is_valid_asyncapi_3() -> None:
    document = json.loads((PUBLISHED / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0"
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in _asyncapi_3_validator().iter_errors(document)
    ]
    assert errors == []


def test_the_asyncapi_schema_refuses_a_document_with_a_wrong_operation() -> None:
    document = json.loads((PUBLISHED / "asyncapi.json").read_text())
    operation = next(iter(document["operations"].values()))
    operation["action"] = "publish"  # AsyncAPI 2's word; 3.0 knows only send and receive
    assert not _asyncapi_3_validator().is_valid(document)
