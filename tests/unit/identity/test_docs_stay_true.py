"""The documents people read are held to the code: error codes and configuration variables."""

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kutamo_identity.app import create_app
from kutamo_identity.config import VARIABLES as IDENTITY_VARIABLES
from kutamo_identity.config import from_env as identity_from_env
from kutamo_identity.errors import TooManyRequests
from kutamo_identity.setup.problems import CATALOGUE as SETUP_PROBLEMS
from kutamo_identity.signin.refusals import CATALOGUE
from kutamo_provisioning.config import VARIABLES as WORKER_VARIABLES
from kutamo_provisioning.config import from_env as worker_from_env

ROOT = Path(__file__).resolve().parents[3]


def test_every_sign_in_refusal_code_is_documented_with_its_status() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    for code, refusal in CATALOGUE.items():
        assert f"| {refusal.status} | `{code}` |" in errors, code


def test_every_configuration_variable_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in [*IDENTITY_VARIABLES, *WORKER_VARIABLES]:
        assert f"| `{name}` |" in readme, name


def test_every_setup_link_refusal_is_documented_with_its_status_and_sentence() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    for code, found in SETUP_PROBLEMS.items():
        assert f"| {found.status} | `{code}` | {found.detail} |" in errors, code


def test_the_rate_limit_answer_is_documented() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    assert f"| {TooManyRequests.status} | `{TooManyRequests(1).code}` |" in errors


def test_every_problem_code_of_the_worker_and_of_erasure_is_in_docs_errors_md() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    worker = ROOT / "services" / "provisioning" / "src" / "kutamo_provisioning"
    raised = {
        (int(status), code)
        for path in worker.glob("*.py")
        for status, code in re.findall(r'ApiError\(\s*(\d{3}),\s*"([a-z_]+)"', path.read_text())
    }
    erasure = ROOT / "services" / "identity" / "src" / "kutamo_identity" / "erasure" / "service.py"
    raised |= {(404, code) for code in re.findall(r'NotFound\(\s*"([a-z_]+)"', erasure.read_text())}
    assert (403, "avatar_url_invalid") in raised
    for status, code in raised:
        assert re.search(rf"^\| {status} \| [^|]*`{code}`", errors, re.MULTILINE), code


# --- documented defaults ---

# Where a variable's value lands in each service's Config, when not at its lower-case name.
_FIELDS = {
    "TOKEN_SEALING_KEY_PREVIOUS": None,  # folded into sealing_keys; "none" is checked by the sealing tests
    "KUTAMO_OPERATOR_KEY": "operator_key",
    "KAFKA_SIGNED_IN_TOPIC": "signed_in_topic",
    "KAFKA_PROVISIONED_TOPIC": "provisioned_topic",
    "KAFKA_LIFECYCLE_TOPIC": "lifecycle_topic",
}
_REQUIRED = {
    "DATABASE_URL": "postgresql://u@localhost/db",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "TOKEN_SEALING_KEY": base64.b64encode(b"k" * 32).decode(),
    "IDENTITY_BASE_URL": "http://identity.internal:8000",
}
_NOTHING = {"none", "not shown", "unset: none"}


def _documented_default(meaning: str, service: str) -> str | None:
    """The text after "default" in a meaning, for this service when it names one per service."""
    found = re.search(r"[(;] ?default:? ([^);]+)[);]|unset: (none)", meaning)
    if found is None:
        return None
    text = (found.group(1) or found.group(2)).replace("`", "").strip()
    per_service = {label: value for value, label in re.findall(r"(\S+) (identity|provisioning)\b", text)}
    return per_service.get(service, text.split(", ")[0])


def _code_default(config: Any, name: str) -> str | None:
    field = _FIELDS.get(name, name.lower())
    if field is None or not hasattr(config, field):
        return None
    value = getattr(config, field)
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"  # as the variables are written
    return str(value)


def _expected(documented: str, config: Any) -> str:
    """A documented default that names another variable ("PUBLIC_BASE_URL/app") stands for that one's value."""
    if documented in _NOTHING or documented.startswith("none"):
        return "none"
    head, sep, tail = documented.partition("/")
    if re.fullmatch(r"[A-Z_]+", head) and hasattr(config, head.lower()):
        return str(getattr(config, head.lower())) + sep + tail
    return documented


def _readme_meanings() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z_]+)` \| [^|]+ \| [^|]+ \| (.+) \|$", (ROOT / "README.md").read_text(), re.MULTILINE)
    return dict(rows)


@pytest.mark.parametrize(
    ("service", "variables", "from_env"),
    [("identity", IDENTITY_VARIABLES, identity_from_env), ("provisioning", WORKER_VARIABLES, worker_from_env)],
)
def test_every_documented_default_is_the_default_the_code_uses(
    service: str, variables: dict[str, tuple[bool, str]], from_env: Callable[[dict[str, str]], Any]
) -> None:
    config = from_env({name: value for name, value in _REQUIRED.items() if name in variables})
    readme = _readme_meanings()
    checked, wrong = 0, []
    for name in variables:
        code = _code_default(config, name)
        for where, meaning in (("README.md", readme.get(name, "")), (f"{service} VARIABLES", variables[name][1])):
            documented = _documented_default(meaning, service)
            if code is None or documented is None:
                continue
            checked += 1
            if _expected(documented, config) != code:
                wrong.append(f"{name}: {where} says {documented!r}, the code uses {code!r}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 20, f"only {checked} defaults were found to compare: has the README table changed shape?"


def test_a_wrong_documented_default_is_noticed() -> None:
    config = identity_from_env({k: v for k, v in _REQUIRED.items() if k in IDENTITY_VARIABLES})
    documented = _documented_default("lifetime of Kutamo session tokens (default 600)", "identity")
    assert documented == "600"
    assert _expected(documented, config) != _code_default(config, "SESSION_TTL_SECONDS") == "900"
    assert _documented_default("port (default 8000 identity, 8001 provisioning)", "provisioning") == "8001"


# --- every code the code can answer ---

# A problem builder or an exception given a code literal: `problem(405, "method_not_allowed", ...)`,
# `_problem(status, "http_error", ...)`, `ApiError(404, "user_not_found", ...)`, `NotFound("tenant_not_found", ...)`.
_RAISED = re.compile(
    r"\b(?:_?problem|ApiError|IdentityError|BadRequest|NotFound|Unauthorized|Forbidden|Conflict|Unavailable)"
    r"\(\s*(?:[^,()\"]+,\s*)?\"([a-z]+(?:_[a-z]+)+)\""
)


def _codes_in_sources() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in ("services/identity/src", "services/provisioning/src", "kit/src"):
        for path in (ROOT / package).rglob("*.py"):
            for code in _RAISED.findall(path.read_text()):
                found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_every_error_code_the_services_answer_is_in_docs_errors_md() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    found = _codes_in_sources()
    assert {"method_not_allowed", "http_error", "internal_error", "user_not_found"} <= found.keys()
    missing = sorted(f"{code} ({where})" for code, where in found.items() if f"`{code}`" not in errors)
    assert not missing, f"docs/errors.md does not list: {', '.join(missing)}"


def test_the_code_scan_sees_a_code_in_each_way_it_is_written() -> None:
    written = (
        'problem(405, "method_not_allowed", "t", "d", path)',
        '_problem(exc.status_code, "http_error", str(exc.detail), request.url.path)',
        'raise NotFound("tenant_not_found", "No such tenant.")',
        'ApiError(\n        404, "user_not_found", "No such user.")',
    )
    assert [_RAISED.findall(text) for text in written] == [
        ["method_not_allowed"], ["http_error"], ["tenant_not_found"], ["user_not_found"]
    ]  # fmt: skip


def test_decision_0004_counts_the_operations_the_openapi_document_holds() -> None:
    config = identity_from_env({k: v for k, v in _REQUIRED.items() if k in IDENTITY_VARIABLES})
    document = create_app(config).openapi_schema.to_schema()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    operations = sum(1 for item in document["paths"].values() for method in item if method in methods)
    decision = (ROOT / "docs" / "decisions" / "0004-tenant-admin-api.md").read_text()
    assert decision.startswith("# 0004 — ")
    assert f"— {operations} operations (" in decision, f"the OpenAPI document holds {operations} operations"
