"""Schemathesis, driven by the OpenAPI document, throws generated requests at every endpoint of a
running identity service (with an operator key); no answer may be a server error.

It gets an identity process and a database of its own: with the operator key it may do anything the
API allows — erase tenants it learnt the ids of from other answers, revoke keys — and must not do it to
the tenants the rest of the suite shares."""

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kutamo_dev import stack as dev_stack
from kutamo_dev.ports import free_port
from tests.conftest import OPERATOR_KEY
from tests.support.databases import as_identity, throwaway_database
from tests.support.processes import ServiceProcess

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))


@pytest.fixture(scope="module")
async def fuzzed(stack: dev_stack.Stack, identity: ServiceProcess, logs_dir: Path) -> AsyncIterator[ServiceProcess]:
    async with throwaway_database(stack.postgres.url, "kutamo_fuzz") as url:
        port = str(free_port())
        env = {**identity.env, "DATABASE_URL": as_identity(url), "PORT": port}
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        service = ServiceProcess("kutamo_identity", env, logs_dir / "identity-fuzzed.log")
        service.start()
        try:
            yield service
        finally:
            service.stop()


def test_no_endpoint_answers_a_server_error_to_generated_input(fuzzed: ServiceProcess, logs_dir: Path) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "schemathesis is a dev dependency: make install"
    report = logs_dir / "schemathesis.txt"
    done = subprocess.run(
        [
            binary, "run", f"{fuzzed.url}/schema/openapi.json",
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
