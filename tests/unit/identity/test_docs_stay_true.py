"""The documents people read are held to the code: error codes and configuration variables."""

import re
from pathlib import Path

from kutamo_identity.config import VARIABLES as IDENTITY_VARIABLES
from kutamo_identity.errors import TooManyRequests
from kutamo_identity.setup.problems import CATALOGUE as SETUP_PROBLEMS
from kutamo_identity.signin.refusals import CATALOGUE
from kutamo_provisioning.config import VARIABLES as WORKER_VARIABLES

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
