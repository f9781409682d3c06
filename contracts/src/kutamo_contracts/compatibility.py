"""The compatibility gate: what a new payload schema may not do to the one already published.

Within a version a consumer written against the published schema must keep working, so a new
schema may add optional fields (with defaults) and nothing else. Breaking: a field removed, a
field's type changed (its JSON types, enum values, format or item type), a new required field, or a
field that was required becoming optional (consumers may rely on it being there).
"""

from typing import Any

Schema = dict[str, Any]


def breaking_changes(published: Schema, proposed: Schema, where: str = "") -> list[str]:
    """Every way `proposed` breaks readers of `published`, one sentence each; empty when compatible."""
    problems: list[str] = []
    old_props: Schema = published.get("properties", {})
    new_props: Schema = proposed.get("properties", {})
    old_required = set(published.get("required", []))
    new_required = set(proposed.get("required", []))
    for name, old in old_props.items():
        path = f"{where}{name}"
        if name not in new_props:
            problems.append(f"field {path!r} was removed")
            continue
        new = new_props[name]
        if _shape(old) != _shape(new):
            problems.append(f"field {path!r} changed type from {_shape(old)} to {_shape(new)}")
        elif "properties" in old:
            problems.extend(breaking_changes(old, new, f"{path}."))
        if name in old_required and name not in new_required:
            problems.append(f"field {path!r} is no longer required")
    problems.extend(f"new field {where}{name!r} is required" for name in sorted(new_required - old_required))
    return problems


def _shape(schema: Schema) -> str:
    """A comparable description of what values a field admits (ignoring prose and defaults)."""
    parts: list[str] = []
    if "anyOf" in schema:
        parts.extend(sorted(_shape(option) for option in schema["anyOf"]))
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        parts.extend(sorted(str(kind) for kind in kinds))
    if "enum" in schema:
        parts.append("enum" + str(sorted(map(str, schema["enum"]))))
    if "const" in schema:
        parts.append(f"const {schema['const']!r}")
    if "format" in schema:
        parts.append(f"format {schema['format']}")
    if "items" in schema:
        parts.append(f"items {_shape(schema['items'])}")
    if "$ref" in schema:
        parts.append(f"ref {schema['$ref']}")
    return "|".join(parts) or "any"
