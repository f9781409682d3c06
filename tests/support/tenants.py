"""Create tenants the way an operator does today: with the identity CLI, as a real process."""

import json
import subprocess
import sys
import uuid

import msgspec

from tests.support.processes import ServiceProcess


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    login_code: str
    application_id: str
    directory_id: str
    """The pinned Azure directory; for a pending tenant, a directory nobody has verified yet."""


_NEW = "new"


def create_tenant(
    identity: ServiceProcess,
    name: str = "Contoso",
    note: str | None = None,
    directory_id: str | None = _NEW,
    sign_in_flow: str = "implicit",
) -> Tenant:
    """A tenant with its connection; `directory_id=None` leaves it pending verification."""
    application_id = str(uuid.uuid4())
    directory_id = str(uuid.uuid4()) if directory_id == _NEW else directory_id
    login_code = "t" + uuid.uuid4().hex[:12]
    args = [
        sys.executable,
        "-m",
        "kutamo_identity",
        "tenants",
        "create",
        "--name",
        name,
        "--application-id",
        application_id,
        "--login-code",
        login_code,
        "--sign-in-flow",
        sign_in_flow,
    ]
    if directory_id is not None:
        args += ["--directory-id", directory_id]
    if note is not None:
        args += ["--note", note]
    done = subprocess.run(args, env=identity.env, capture_output=True, text=True, check=True, timeout=60)
    created = json.loads(done.stdout)
    return Tenant(
        tenant_id=created["tenant_id"],
        login_code=login_code,
        application_id=application_id,
        directory_id=directory_id or str(uuid.uuid4()),
    )


def verification_link(identity: ServiceProcess, login_code: str) -> str:
    """The link an operator hands a pending tenant's IT admin for the verification sign-in (CLI)."""
    args = [sys.executable, "-m", "kutamo_identity", "tenants", "verification-code", "--login-code", login_code]
    done = subprocess.run(args, env=identity.env, capture_output=True, text=True, check=True, timeout=60)
    link: str = json.loads(done.stdout)["login_url"]
    return link
