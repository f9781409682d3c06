"""An incompatible change to a published schema is caught: removed field, changed type, new required field."""

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kutamo_contracts import documents
from kutamo_contracts.compatibility import breaking_changes
from kutamo_contracts.topics import USER_SIGNED_IN

SIGNED_IN_FILE = f"{USER_SIGNED_IN.event_type}.json"


@pytest.fixture
def published() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((documents.SCHEMAS_DIR / SIGNED_IN_FILE).read_text())
    return loaded


def test_a_removed_field_breaks_the_contract(published: dict[str, Any]) -> None:
    proposed = copy.deepcopy(published)
    del proposed["properties"]["email"]
    assert breaking_changes(published, proposed) == ["field 'email' was removed"]


def test_a_changed_type_breaks_the_contract(published: dict[str, Any]) -> None:
    proposed = copy.deepcopy(published)
    proposed["properties"]["login_code"] = {"type": "integer"}
    proposed["properties"]["name"] = {"type": "string"}
    assert breaking_changes(published, proposed) == [
        "field 'login_code' changed type from string to integer",
        "field 'name' changed type from null|string to string",
    ]


def test_a_new_required_field_breaks_the_contract(published: dict[str, Any]) -> None:
    proposed = copy.deepcopy(published)
    proposed["properties"]["department"] = {"type": "string"}
    proposed["required"].append("department")
    assert breaking_changes(published, proposed) == ["new field 'department' is required"]


def test_a_required_field_made_optional_breaks_the_contract(published: dict[str, Any]) -> None:
    proposed = copy.deepcopy(published)
    proposed["required"].remove("login_code")
    assert breaking_changes(published, proposed) == ["field 'login_code' is no longer required"]


def test_a_new_optional_field_with_a_default_is_compatible(published: dict[str, Any]) -> None:
    proposed = copy.deepcopy(published)
    proposed["properties"]["department"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    proposed["properties"]["email"]["description"] = "Reworded prose is not a change of contract."
    assert breaking_changes(published, proposed) == []


def test_the_generator_refuses_to_overwrite_a_published_schema_the_code_breaks(tmp_path: Path) -> None:
    # A deliberately broken copy: the published schema has a field (and a type) the code no longer has,
    # exactly what a published document looks like after someone removed or retyped a Struct field.
    for path in documents.SCHEMAS_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    broken = json.loads((tmp_path / SIGNED_IN_FILE).read_text())
    broken["properties"]["department"] = {"type": "string"}
    broken["properties"]["login_code"] = {"type": "integer"}
    (tmp_path / SIGNED_IN_FILE).write_text(json.dumps(broken))

    problems = documents.incompatibilities(tmp_path)

    assert f"{SIGNED_IN_FILE}: field 'department' was removed" in problems
    assert f"{SIGNED_IN_FILE}: field 'login_code' changed type from integer to string" in problems
    with pytest.raises(documents.IncompatibleChange):
        documents.write(tmp_path)
    assert json.loads((tmp_path / SIGNED_IN_FILE).read_text()) == broken, "nothing is written on refusal"
    assert documents.main(["--check", "--out", str(tmp_path)]) == 1
