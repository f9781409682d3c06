"""SCIM filters (RFC 7644 section 3.4.2.2) to a parameterised SQL condition over scim_users.

scim2-filter-parser (a kept, dependency-light sly grammar) parses the filter; this module walks its
tree and allows only the attributes below, so a filter can neither name a column we do not expose nor
inject SQL: every value travels as a bind parameter.
"""

from datetime import datetime
from typing import Any

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from kutamo_identity.scim.errors import bad

MAX_LENGTH = 1000

# attribute path (lower case) -> (SQL expression, kind)
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "username": ("lower(user_name)", "ci"),
    "externalid": ("external_id", "text"),
    "id": ("user_id::text", "text"),
    "displayname": ("coalesce(display_name, '')", "text"),
    "title": ("title", "text"),
    "active": ("active", "bool"),
    "emails": ("lower(email)", "ci"),
    "emails.value": ("lower(email)", "ci"),
    "name.givenname": ("given_name", "text"),
    "name.familyname": ("family_name", "text"),
    "meta.created": ("created_at", "time"),
    "meta.lastmodified": ("updated_at", "time"),
}
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_LIKE = {"co": ("%", "%"), "sw": ("", "%"), "ew": ("%", "")}


class Condition:
    """A SQL condition with $n placeholders numbered from `first`, and its parameters."""

    def __init__(self, first: int) -> None:
        self.params: list[Any] = []
        self._first = first

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${self._first + len(self.params) - 1}"


def to_sql(text: str, first_param: int) -> tuple[str, list[Any]]:
    if len(text) > MAX_LENGTH:
        raise bad("invalidFilter", f"The filter is longer than {MAX_LENGTH} characters.")
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception as exc:  # the lexer and parser raise several kinds; all mean the same to the client
        raise bad("invalidFilter", f"The filter {text!r} is not a valid SCIM filter ({exc}).") from None
    if tree is None:
        raise bad("invalidFilter", f"The filter {text!r} is not a valid SCIM filter.")
    condition = Condition(first_param)
    return _node(tree, condition), condition.params


def _node(node: Any, condition: Condition) -> str:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:
            raise bad("invalidFilter", "Complex attribute filters (attr[...]) are not supported in filter.")
        inner = _node(node.expr, condition)
        return f"(not {inner})" if node.negated else inner
    if isinstance(node, ast.LogExpr):
        op = "and" if node.op.lower() == "and" else "or"
        return f"({_node(node.expr1, condition)} {op} {_node(node.expr2, condition)})"
    if isinstance(node, ast.AttrExpr):
        return _comparison(node, condition)
    raise bad("invalidFilter", "The filter uses a construct Kutamo does not support.")


def _attribute(path: Any) -> tuple[str, str]:
    if not isinstance(path.attr_name, str):
        raise bad("invalidFilter", "Filters on values of complex attributes (emails[type eq ...]) are not supported.")
    name = path.attr_name.lower()
    if path.sub_attr is not None:
        name += "." + str(path.sub_attr.value).lower()
    found = ATTRIBUTES.get(name)
    if found is None:
        supported = "userName, externalId, id, displayName, title, active, emails.value, name.givenName, ..."
        raise bad("invalidFilter", f"Filtering on {name!r} is not supported. Supported: {supported}")
    return found


def _comparison(node: Any, condition: Condition) -> str:
    column, kind = _attribute(node.attr_path)
    op = str(node.value).lower()
    if op == "pr":
        return f"({column} is not null)"
    raw = node.comp_value.value if node.comp_value is not None else None
    if raw is None:
        return f"({column} is null)" if op == "eq" else f"({column} is not null)"
    if kind == "bool":
        if op not in ("eq", "ne") or str(raw).lower() not in ("true", "false"):
            raise bad("invalidFilter", "active can only be compared with eq or ne to true or false.")
        return f"({column} {_COMPARE[op]} {condition.bind(str(raw).lower() == 'true')})"
    value = str(raw).lower() if kind == "ci" else str(raw)
    if op in _LIKE:
        before, after = _LIKE[op]
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"({column} like {condition.bind(before + escaped + after)})"
    if op not in _COMPARE:
        raise bad("invalidFilter", f"The operator {op!r} is not a SCIM filter operator.")
    if kind == "time":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad("invalidFilter", f"{value!r} is not a date-time (RFC 3339).") from None
        return f"({column} {_COMPARE[op]} {condition.bind(moment)})"
    return f"({column} {_COMPARE[op]} {condition.bind(value)})"
