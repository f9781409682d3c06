"""The two Kutamo services as background processes of the local stack, and the demo tenant."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kutamo_dev import postgres, procs
from kutamo_dev.ports import free_port, is_free
from kutamo_dev.stack import ServiceInfo, Stack, save

# The demo organisation: fixed ids, so `make demo` works against any `make run`.
DEMO_DIRECTORY_ID = "6f1c3c1e-8f7a-4b7e-9d61-2a3c5e0d4b11"
DEMO_APPLICATION_ID = "0b8e1c52-3d4f-4a6b-8c9d-7e1f2a3b4c5d"
DEMO_LOGIN_CODE = "contoso"
# The people of the demo directory, as the emulated Microsoft sign-in page lists them.
DEMO_PEOPLE = (
    {
        "oid": "3d0f5b9a-1c2e-4f60-8a7b-9c0d1e2f3a4b",
        "display_name": "Adele Vance",
        "mail": "adele.vance@contoso.example",
        "user_principal_name": "adele.vance@contoso.example",
        "job_title": "Product Manager",
    },
    {
        "oid": "7a2b4c6d-8e0f-4a1b-9c3d-5e7f9a1b3c5d",
        "display_name": "Megan Bowen",
        "mail": "megan.bowen@contoso.example",
        "user_principal_name": "megan.bowen@contoso.example",
        "job_title": "Marketing Manager",
    },
)


class ServiceError(RuntimeError):
    """A service did not come up; the message carries the tail of its log."""


def _database_url(stack: Stack, name: str) -> str:
    """The service's own login role on the stack's cluster; an external DATABASE_URL is used as given."""
    if not stack.postgres.managed:
        return stack.postgres.url
    return postgres.as_role(
        stack.postgres.url, postgres.IDENTITY_ROLE if name == "identity" else postgres.PROVISIONING_ROLE
    )


def service_env(
    stack: Stack, name: str, port: int, identity_url: str | None = None, provisioning_url: str | None = None
) -> dict[str, str]:
    assert stack.emulator is not None
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _database_url(stack, name),
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key,
            "KUTAMO_OPERATOR_KEY": stack.operator_key,
            "PORT": str(port),
        }
    )
    # One instance of each on a local stack: it applies its own migrations at start (no upgrade to stage).
    env.setdefault("MIGRATE_ON_START", "true")
    if name == "identity":
        env["AZURE_LOGIN_BASE_URL"] = stack.emulator.url
        env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
        if provisioning_url:
            env["PROVISIONING_BASE_URL"] = provisioning_url
    else:
        env["GRAPH_BASE_URL"] = stack.emulator.url
        env["IDENTITY_BASE_URL"] = identity_url or ""
        # The identity service's /app page reads the signed-in person from the browser.
        env.setdefault("CORS_ALLOWED_ORIGINS", identity_url or "")
        env.setdefault("SESSION_ISSUER", env.get("PUBLIC_BASE_URL") or identity_url or "")  # identity's, above
    return env


def start_services(stack: Stack) -> tuple[Stack, bool]:
    """Start identity (port 8000) and provisioning (8001), or free ports when those are taken."""
    running = {s.name: s for s in stack.services if s.running()}
    if set(running) == {"identity", "provisioning"}:
        return stack, False
    for service in running.values():
        service.stop()
    identity_port = 8000 if is_free(8000) else free_port()
    provisioning_port = 8001 if is_free(8001) else free_port()
    identity_url, provisioning_url = f"http://127.0.0.1:{identity_port}", f"http://127.0.0.1:{provisioning_port}"
    identity = _start(stack, "identity", "kutamo_identity", service_env(
        stack, "identity", identity_port, provisioning_url=provisioning_url
    ))  # fmt: skip
    provisioning = _start(stack, "provisioning", "kutamo_provisioning", service_env(
        stack, "provisioning", provisioning_port, identity_url=identity_url
    ))  # fmt: skip
    stack.services = [identity, provisioning]
    save(stack)
    return stack, True


def _start(stack: Stack, name: str, module: str, env: dict[str, str]) -> ServiceInfo:
    log_path = Path(stack.run_dir) / f"{name}.log"
    pid = procs.start([sys.executable, "-m", module], log_path, env=env)
    url = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not procs.alive(pid):
            raise ServiceError(f"{name} exited at start:\n{procs.log_tail(log_path)}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return ServiceInfo(name=name, url=url, pid=pid, pid_started=procs.started_at(pid))
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    procs.stop(pid, 10)
    raise ServiceError(f"{name} was not ready within 60 s:\n{procs.log_tail(log_path)}")


def seed_demo_directory(stack: Stack) -> None:
    """Register the demo app in the emulated Azure AD, as the demo organisation's IT admin would (the
    login page's redirect URI as a Web platform URI with implicit grant, the help page's setup), and
    put its people in the directory. The emulator keeps these in memory, so every run seeds them."""
    assert stack.emulator is not None
    identity = next(s for s in stack.services if s.name == "identity")
    public = service_env(stack, "identity", int(identity.url.rsplit(":", 1)[1]))["PUBLIC_BASE_URL"]
    registration = {
        "client_id": DEMO_APPLICATION_ID,
        "home_tid": DEMO_DIRECTORY_ID,
        "display_name": "Kutamo",
        "redirect_uris": [{"uri": f"{public}/login/callback", "type": "web"}],
    }
    with httpx.Client(timeout=10) as http:
        http.post(f"{stack.emulator.url}/_emulator/applications", json=registration).raise_for_status()
        for person in DEMO_PEOPLE:
            body = {**person, "tid": DEMO_DIRECTORY_ID, "photo": True}
            http.post(f"{stack.emulator.url}/_emulator/users", json=body).raise_for_status()


def ensure_demo_tenant(stack: Stack) -> str:
    """Create the demo organisation once; later runs find it by its login code."""
    identity = next(s for s in stack.services if s.name == "identity")
    seed_demo_directory(stack)
    if httpx.get(f"{identity.url}/v1/login/{DEMO_LOGIN_CODE}", timeout=5).status_code == 200:
        return DEMO_LOGIN_CODE
    env = service_env(stack, "identity", int(identity.url.rsplit(":", 1)[1]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kutamo_identity",
            "tenants",
            "create",
            "--name",
            "Contoso (demo)",
            "--application-id",
            DEMO_APPLICATION_ID,
            "--login-code",
            DEMO_LOGIN_CODE,
            "--directory-id",
            DEMO_DIRECTORY_ID,
            "--note",
            "Sign in with your Contoso work account.",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise ServiceError(f"could not create the demo tenant: {done.stderr.strip()}")
    return str(json.loads(done.stdout)["login_code"])
