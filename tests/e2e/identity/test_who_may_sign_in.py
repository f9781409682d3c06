"""Who may sign in, and proof of it (issue 13): a directory is pinned only by a verification sign-in from
it, one (application, directory) pair belongs to one tenant unless an operator approves, guests are
refused unless allowed, every change to who may sign in is audited, and the email published says where
it came from. Over HTTP against the real identity service, worker, PostgreSQL and Kafka."""

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.conftest import OPERATOR_KEY
from tests.e2e.conftest import provisioned_user
from tests.e2e.identity.admin import Admin, unique_code
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import login_page, sign_in
from tests.support.tenants import Tenant, create_tenant


@pytest.fixture
def operator(http: httpx.AsyncClient, identity: ServiceProcess) -> Admin:
    return Admin(http, identity, OPERATOR_KEY)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def cli(identity: ServiceProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kutamo_identity", *args],
        env=identity.env, capture_output=True, text=True, check=check, timeout=60,
    )  # fmt: skip


def as_tenant(tenant_id: str, login_code: str, application_id: str, directory_id: str) -> Tenant:
    return Tenant(tenant_id=tenant_id, login_code=login_code, application_id=application_id, directory_id=directory_id)


async def verify(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, code: str, directory: str
) -> httpx.Response:
    """The IT admin's verification sign-in with `code`, from an account of `directory`."""
    admin = await microsoft.add_user(directory, name="Ines Admin", mail=None, title="IT")
    return await sign_in(
        http, identity, microsoft, tenant, admin["oid"], directory=directory, body={"verification_code": code}
    )


async def new_code(operator: Admin, tenant_id: str, key: str | None = None) -> str:
    response = await operator.call("POST", f"/{tenant_id}/azure-ad/verification-codes", key=key)
    assert response.status_code == 201, response.text
    return str(response.json()["verification_code"])


async def audit_of(operator: Admin, tenant_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await operator.call("GET", f"/{tenant_id}/audit-log")).json()["entries"]
    return entries


# --- 1. directory binding needs proof ---


async def test_a_tenant_admin_cannot_point_the_login_page_at_a_directory_without_a_sign_in_from_it(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant_id = await operator.new_tenant("Evil Corp")
    key = await operator.new_key(tenant_id)
    victims, app_id, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("evil")

    put = await operator.put_connection(
        tenant_id, key=key, application_id=app_id, login_code=code, directory_id=victims
    )
    page = await login_page(http, identity, code)
    tenant = as_tenant(tenant_id, code, app_id, victims)
    victim = await microsoft.add_user(victims, name="Victor Im", mail="victor@victim.example", title="CFO")
    refused = await sign_in(http, identity, microsoft, tenant, victim["oid"])

    assert put.status_code == 200, put.text
    assert (put.json()["directory_id"], put.json()["proposed_directory_id"]) == (None, victims)
    assert (put.json()["status"], put.json()["verification_required"]) == ("pending_verification", True)
    # A single-tenant app is only reached through its own directory: the proposal is the authority.
    assert page["authority"].rsplit("/", 1)[1] == victims
    problem(refused, 403, "connection_pending_verification")


async def test_the_verification_sign_in_must_come_from_the_proposed_directory_and_then_pins_it(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant_id = await operator.new_tenant("Northwind")
    key = await operator.new_key(tenant_id)
    directory, app_id, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("north")
    await operator.put_connection(tenant_id, key=key, application_id=app_id, login_code=code, directory_id=directory)
    tenant = as_tenant(tenant_id, code, app_id, directory)
    verification = await new_code(operator, tenant_id, key)

    elsewhere = await verify(http, identity, microsoft, tenant, verification, str(uuid.uuid4()))
    verified = await verify(http, identity, microsoft, tenant, verification, directory)
    connection = (await operator.call("GET", f"/{tenant_id}/azure-ad", key=key)).json()

    problem(elsewhere, 403, "directory_not_allowed")
    assert verified.status_code == 201, verified.text
    assert verified.json()["directory_verified"] is True
    assert (connection["directory_id"], connection["status"]) == (directory, "active")
    assert (connection["proposed_directory_id"], connection["verification_required"]) == (None, False)


async def test_changing_a_pinned_directory_needs_a_new_verification_and_stops_sign_in_until_then(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant = create_tenant(identity, name="Contoso")
    key = await operator.new_key(tenant.tenant_id)
    other = str(uuid.uuid4())
    same = await operator.put_connection(
        tenant.tenant_id, key=key, application_id=tenant.application_id, login_code=tenant.login_code,
        directory_id=tenant.directory_id,
    )  # fmt: skip

    changed = await operator.put_connection(
        tenant.tenant_id, key=key, application_id=tenant.application_id, login_code=tenant.login_code,
        directory_id=other,
    )  # fmt: skip
    person = await microsoft.add_user(tenant.directory_id, name="Pat Old", mail=None, title=None)
    old_directory = await sign_in(http, identity, microsoft, tenant, person["oid"])

    assert (same.json()["status"], same.json()["directory_id"]) == ("active", tenant.directory_id)
    assert (changed.json()["status"], changed.json()["directory_id"]) == ("pending_verification", None)
    assert changed.json()["proposed_directory_id"] == other
    problem(old_directory, 403, "connection_pending_verification")


async def test_an_operator_pins_a_directory_directly(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    directory = str(uuid.uuid4())

    put = await operator.put_connection(tenant_id, directory_id=directory)

    assert (put.json()["status"], put.json()["directory_id"]) == ("active", directory)


async def test_a_directory_pinned_by_another_tenant_for_the_same_app_is_refused_until_an_operator_approves(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    first = create_tenant(identity, name="Contoso")
    second_id = await operator.new_tenant("Contoso (copy)")
    key = await operator.new_key(second_id)
    code = unique_code("copy")
    await operator.put_connection(
        second_id, key=key, application_id=first.application_id, login_code=code, directory_id=first.directory_id
    )
    second = as_tenant(second_id, code, first.application_id, first.directory_id)
    by_operator = await operator.put_connection(
        second_id, application_id=first.application_id, login_code=code, directory_id=first.directory_id
    )

    refused = await verify(
        http, identity, microsoft, second, await new_code(operator, second_id, key), first.directory_id
    )
    not_by_admin = await operator.call(
        "POST", f"/{second_id}/azure-ad/approve-directory", key=key, json={"directory_id": first.directory_id}
    )
    approved = await operator.call(
        "POST", f"/{second_id}/azure-ad/approve-directory", json={"directory_id": first.directory_id}
    )
    accepted = await verify(
        http, identity, microsoft, second, await new_code(operator, second_id, key), first.directory_id
    )

    problem(by_operator, 409, "directory_already_bound")
    body = problem(refused, 409, "directory_already_bound")
    assert "approve" in body["admin_hint"]
    problem(not_by_admin, 403, "forbidden_scope")
    assert approved.status_code == 201, approved.text
    assert approved.json()["application_id"] == first.application_id
    assert accepted.status_code == 201, accepted.text
    log = await audit_of(operator, second_id)
    assert [e["action"] for e in log[:3]] == [
        "azure_ad.directory_verified", "azure_ad.verification_code_created", "azure_ad.directory_approved",
    ]  # fmt: skip
    assert log[2]["actor"] == "operator-key:env"


async def test_two_tenants_verifying_one_pair_at_once_end_with_exactly_one_pinned(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    directory, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    tenants, codes = [], []
    for n in range(3):
        tenant_id = await operator.new_tenant(f"Racer {n}")
        key = await operator.new_key(tenant_id)
        code = unique_code("race")
        await operator.put_connection(
            tenant_id, key=key, application_id=app_id, login_code=code, directory_id=directory
        )
        tenants.append(as_tenant(tenant_id, code, app_id, directory))
        codes.append(await new_code(operator, tenant_id, key))

    answers = await asyncio.gather(
        *(verify(http, identity, microsoft, t, c, directory) for t, c in zip(tenants, codes, strict=True))
    )

    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.text for a in answers]


# --- 2. guests ---


@pytest.mark.parametrize(
    "guest", [{"idp": "live.com"}, {"idp": "https://sts.windows.net/{home}/"}, {"acct": 1}], ids=["msa", "b2b", "acct"]
)
async def test_a_guest_is_refused_by_default_and_let_in_once_the_connection_allows_guests(
    guest: dict[str, Any], operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant = create_tenant(identity, name="Fabrikam")
    claims = {k: (v.format(home=uuid.uuid4()) if isinstance(v, str) else v) for k, v in guest.items()}
    visitor = await microsoft.add_user(tenant.directory_id, name="Gus Guest", mail="gus@elsewhere.example", title=None)
    member = await microsoft.add_user(tenant.directory_id, name="Mia Member", mail=None, title=None)
    issuer = {"idp": f"https://login.microsoftonline.com/{tenant.directory_id}/v2.0"}

    refused = await sign_in(http, identity, microsoft, tenant, visitor["oid"], extra_claims=claims)
    members_still_welcome = await sign_in(http, identity, microsoft, tenant, member["oid"], extra_claims=issuer)
    allowed = await operator.put_connection(
        tenant.tenant_id, application_id=tenant.application_id, login_code=tenant.login_code, allow_guests=True
    )
    admitted = await sign_in(http, identity, microsoft, tenant, visitor["oid"], extra_claims=claims)

    body = problem(refused, 403, "guest_not_allowed")
    assert "guest" in body["detail"]
    assert "allow_guests" in body["admin_hint"]
    assert members_still_welcome.status_code == 201, members_still_welcome.text
    assert allowed.json()["allow_guests"] is True
    assert allowed.json()["directory_id"] == tenant.directory_id
    assert admitted.status_code == 201, admitted.text


async def test_guests_can_be_allowed_from_the_cli_and_personal_accounts_keep_their_own_refusal(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    directory, app_id, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("guests")
    cli(identity, "tenants", "create", "--name", "Open", "--application-id", app_id, "--login-code", code,
        "--directory-id", directory, "--allow-guests")  # fmt: skip
    tenant = as_tenant("", code, app_id, directory)
    visitor = await microsoft.add_user(directory, name="Gus Guest", mail=None, title=None)
    personal = "9188040d-6c67-4c5b-b112-36a304b66dad"
    someone = await microsoft.add_user(personal, name="Pia Personal", mail=None, title=None)

    admitted = await sign_in(http, identity, microsoft, tenant, visitor["oid"], extra_claims={"acct": 1})
    msa = await sign_in(http, identity, microsoft, tenant, someone["oid"], directory=personal)

    assert admitted.status_code == 201, admitted.text
    problem(msa, 403, "directory_not_allowed")


# --- 3. audit ---


async def test_the_pinning_is_audited_with_the_verifying_person_and_the_code_used(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant_id = await operator.new_tenant("Litware")
    key = await operator.new_key(tenant_id)
    key_id = (await operator.call("GET", f"/{tenant_id}/api-keys")).json()[0]["id"]
    directory, app_id, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("lit")
    await operator.put_connection(tenant_id, key=key, application_id=app_id, login_code=code, directory_id=directory)
    tenant = as_tenant(tenant_id, code, app_id, directory)
    admin = await microsoft.add_user(directory, name="Lidia Holloway", mail=None, title=None)

    verified = await sign_in(
        http,
        identity,
        microsoft,
        tenant,
        admin["oid"],
        body={"verification_code": await new_code(operator, tenant_id, key)},
    )

    assert verified.status_code == 201, verified.text
    pinned = (await audit_of(operator, tenant_id))[0]
    assert pinned["action"] == "azure_ad.directory_verified"
    assert pinned["actor"] == f"microsoft:{directory}/{admin['oid']}"
    assert pinned["before"]["proposed_directory_id"] == directory
    assert pinned["after"]["directory_id"] == directory
    assert pinned["after"]["verified_by"] == {"tid": directory, "oid": admin["oid"]}
    assert pinned["after"]["verification_code"]["created_by"] == f"api-key:{key_id}"


async def test_operator_keys_are_listed_revoked_and_audited_without_a_tenant(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    base = f"{identity.url}/v1"
    created = await http.post(f"{base}/operator-keys", headers=operator.headers(), json={"name": "night shift"})
    made = created.json()
    by_cli = json.loads(cli(identity, "keys", "create", "--operator", "--name", "cli shift").stdout)
    listed = await http.get(f"{base}/operator-keys", headers=operator.headers(made["key"]))
    from_cli = [json.loads(line) for line in cli(identity, "keys", "list", "--operator").stdout.splitlines()]
    revoked = await http.delete(f"{base}/operator-keys/{made['id']}", headers=operator.headers())
    after = await http.get(f"{base}/operator-keys", headers=operator.headers(made["key"]))
    cli_revoked = cli(identity, "keys", "revoke", "--id", by_cli["id"])
    tenant_id = await operator.new_tenant()
    admin_key = await operator.new_key(tenant_id)
    not_for_admins = await http.get(f"{base}/audit-log", headers=operator.headers(admin_key))
    log = (await http.get(f"{base}/audit-log", headers=operator.headers(), params={"limit": 200})).json()["entries"]

    assert created.status_code == 201, created.text
    assert (made["scope"], made["tenant_id"]) == ("operator", None)
    assert made["id"] in [k["id"] for k in listed.json()]
    assert made["key"] not in listed.text
    assert {made["id"], by_cli["id"]} <= {k["id"] for k in from_cli}
    assert revoked.status_code == 204
    problem(after, 401, "api_key_invalid")
    assert cli_revoked.returncode == 0, cli_revoked.stderr
    problem(not_for_admins, 403, "forbidden_scope")
    mine = [(e["action"], e["actor"], e["tenant_id"]) for e in log if e["after"] and e["after"].get("id") in
            (made["id"], by_cli["id"])]  # fmt: skip
    assert ("api_key.created", "operator-key:env", None) in mine
    assert ("api_key.revoked", "operator-key:env", None) in mine
    assert ("api_key.created", "cli", None) in mine
    assert ("api_key.revoked", "cli", None) in mine
    assert made["key"] not in str(log)
    assert by_cli["key"] not in str(log)
    assert any(e["tenant_id"] == tenant_id for e in log), "operators see the tenants' entries too"


async def test_a_connection_created_with_the_cli_is_audited(operator: Admin, identity: ServiceProcess) -> None:
    directory, app_id, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("cli")
    created = json.loads(
        cli(identity, "tenants", "create", "--name", "By CLI", "--application-id", app_id, "--login-code", code,
            "--directory-id", directory).stdout
    )  # fmt: skip

    log = await audit_of(operator, created["tenant_id"])

    assert [(e["action"], e["actor"]) for e in log] == [("azure_ad.created", "cli"), ("tenant.created", "cli")]
    assert log[0]["after"]["directory_id"] == directory
    assert log[0]["after"]["application_id"] == app_id


async def test_a_tenant_admin_cannot_turn_back_on_or_remove_a_connection_an_operator_turned_off(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    code = unique_code()
    await operator.put_connection(tenant_id, login_code=code, directory_id=str(uuid.uuid4()))
    await operator.call("POST", f"/{tenant_id}/azure-ad/disable")

    again_off = await operator.call("POST", f"/{tenant_id}/azure-ad/disable", key=key)
    by_admin = await operator.call("POST", f"/{tenant_id}/azure-ad/enable", key=key)
    deleted = await operator.call("DELETE", f"/{tenant_id}/azure-ad", key=key)
    page = await http.get(f"{identity.url}/v1/login/{code}")
    by_operator = await operator.call("POST", f"/{tenant_id}/azure-ad/enable")
    admin_may_again = await operator.call("POST", f"/{tenant_id}/azure-ad/disable", key=key)
    and_back = await operator.call("POST", f"/{tenant_id}/azure-ad/enable", key=key)

    assert again_off.json()["disabled_by_operator"] is True
    assert "Kutamo" in problem(by_admin, 403, "connection_disabled_by_operator")["detail"]
    problem(deleted, 403, "connection_disabled_by_operator")
    problem(page, 404, "unknown_login_code")
    assert (by_operator.json()["status"], by_operator.json()["disabled_by_operator"]) == ("active", False)
    assert admin_may_again.json()["disabled_by_operator"] is False
    assert and_back.json()["status"] == "active"
    log = await audit_of(operator, tenant_id)
    assert log[2]["action"] == "azure_ad.enabled"
    assert (log[2]["actor"], log[2]["before"]["disabled_by_operator"]) == ("operator-key:env", True)


async def test_a_deleted_connections_login_code_stays_reserved_for_the_grace_period(
    operator: Admin, db: asyncpg.Connection
) -> None:
    mine, theirs = await operator.new_tenant("Mine"), await operator.new_tenant("Theirs")
    code = unique_code("gone")
    await operator.put_connection(mine, login_code=code)

    deleted = await operator.call("DELETE", f"/{mine}/azure-ad")
    taken = await operator.put_connection(theirs, login_code=code)
    await db.execute("update identity.login_codes set expires_at = now() - interval '1 second' where code_lower = $1",
                     code.lower())  # fmt: skip
    freed = await operator.put_connection(theirs, login_code=code)

    assert deleted.status_code == 204
    problem(taken, 409, "login_code_taken")
    assert freed.status_code == 200, freed.text
    entry = (await audit_of(operator, mine))[0]
    assert entry["action"] == "azure_ad.deleted"
    assert "login_code_reserved_until" in entry["after"]


async def test_the_owner_can_take_its_deleted_code_back_within_the_grace_period(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    code = unique_code("back")
    await operator.put_connection(tenant_id, login_code=code)
    await operator.call("DELETE", f"/{tenant_id}/azure-ad")

    again = await operator.put_connection(tenant_id, login_code=code)

    assert again.status_code == 200, again.text


# --- 4. email provenance ---


async def signed_in_events(bootstrap: str, wanted: set[str], within: float = 60) -> dict[str, dict[str, Any]]:
    """The UserSignedIn payloads of these event ids, read from the real topic."""
    partitions = [TopicPartition(USER_SIGNED_IN.name, p) for p in range(USER_SIGNED_IN.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, dict[str, Any]] = {}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline and len(found) < len(wanted):
            for records in (await consumer.getmany(timeout_ms=300, max_records=5000)).values():
                for r in records:
                    # The shared topic also holds the malformed records other tests send on purpose.
                    ce_id = dict(r.headers).get("ce_id")
                    if ce_id is None:
                        continue
                    event_id = ce_id.decode()
                    if event_id in wanted:
                        found[event_id] = json.loads(r.value)
    finally:
        await consumer.stop()
    return found


async def test_the_published_email_says_which_claim_it_came_from_and_whether_it_is_verified(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    microsoft: Emulator,
    tenant: Tenant,
    stack: dev_stack.Stack,
) -> None:
    with_mail = await microsoft.add_user(tenant.directory_id, name="Vera Fied", mail="vera@contoso.example", title="A")
    no_mail = await microsoft.add_user(tenant.directory_id, name="Una Fied", mail=None, title="B")

    verified = await sign_in(http, identity, microsoft, tenant, with_mail["oid"], extra_claims={"xms_edov": True})
    unverified = await sign_in(http, identity, microsoft, tenant, with_mail["oid"], extra_claims={"xms_edov": False})
    username = await sign_in(http, identity, microsoft, tenant, no_mail["oid"])
    events = await signed_in_events(
        stack.kafka.bootstrap_servers, {r.json()["event_id"] for r in (verified, unverified, username)}
    )

    first, second, third = (events[r.json()["event_id"]] for r in (verified, unverified, username))
    assert (first["email"], first["email_source"], first["email_verified"]) == (with_mail["mail"], "email", True)
    assert (second["email_source"], second["email_verified"]) == ("email", False)
    assert (third["email"], third["email_source"], third["email_verified"]) == (
        no_mail["user_principal_name"], "preferred_username", False,
    )  # fmt: skip
    session = unverified.json()["session_token"]
    user = await provisioned_user(http, provisioning, unverified.json()["user_id"], session, title="A")
    # Graph's `mail` is whatever the directory's admins typed: never a verified address.
    assert (user["email"], user["email_source"], user["email_verified"]) == (with_mail["mail"], "graph_mail", False)


async def test_a_key_name_with_a_control_character_is_refused_and_no_key_is_made(
    operator: Admin, http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    # The fuzzer found this: PostgreSQL cannot store NUL in text, and a 500 came back.
    base = f"{identity.url}/v1"
    before = await http.get(f"{base}/operator-keys", headers=operator.headers())
    answers = [
        await http.post(f"{base}/operator-keys", headers=operator.headers(), json={"name": name})
        for name in ("night\x00shift", "bell\x07", "tab\tand\nnewline are fine")
    ]
    after = await http.get(f"{base}/operator-keys", headers=operator.headers())

    assert [a.status_code for a in answers] == [400, 400, 201], [a.text for a in answers]
    assert {a.json()["code"] for a in answers[:2]} == {"invalid_name"}  # as for a tenant's keys
    assert "control characters" in answers[0].json()["detail"]
    assert len(after.json()) == len(before.json()) + 1
