"""Schemathesis, driven by the OpenAPI document, throws generated requests at every endpoint of the
running identity service (with an operator key); no answer may be a server error."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import OPERATOR_KEY
from tests.support.processes import ServiceProcess

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))


def test_no_endpoint_answers_a_server_error_to_generated_input(identity: ServiceProcess, logs_dir: Path) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "schemathesis is a dev dependency: make install"
    report = logs_dir / "schemathesis.txt"
    done = subprocess.run(
        [
            binary, "run", f"{identity.url}/schema/openapi.json",
            "--checks", "not_a_server_error",
            "--max-examples", str(MAX_EXAMPLES),
            "--header", f"Authorization: Bearer {OPERATOR_KEY}",
            "--request-timeout", "10",
            "--no-color",
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    report.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"schemathesis found server errors; see {report}:\n{done.stdout[-4000:]}"
