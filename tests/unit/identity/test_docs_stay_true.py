"""The documents people read are held to the code: error codes and configuration variables."""

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
