"""Sign-in scenarios across requests: nonces, other tenants, linking, verification, Microsoft's errors."""

import json
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from kutamo_contracts.sealing import parse_key
from kutamo_dev import stack as dev_stack
from kutamo_identity.signin import nonces
from tests.e2e.identity import corpus as c
from tests.e2e.operations.scrape import metrics_text
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import login_page
from tests.support.tenants import Tenant, create_tenant


def code_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, (response.json().get("code") if response.status_code >= 400 else None)


async def test_a_nonce_works_once_and_a_replay_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    nonce = await a.nonce()
    tokens = await a.tokens(nonce)

    first = await a.post(tokens["id_token"], nonce)
    replay = await a.post(tokens["id_token"], nonce)

    assert code_of(first) == (201, None)
    assert code_of(replay) == (401, "nonce_invalid")


async def test_a_nonce_never_handed_out_or_expired_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, stack: dev_stack.Stack
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    invented = "x" * 43
    made_up = await a.post((await a.tokens(invented))["id_token"], invented)
    # Minted as the service does (its key is derived from the sealing key), but a second past its expiry.
    key = nonces.derive_key(parse_key(stack.sealing_key))
    stale = nonces.issue(key, uuid.UUID(tenant.tenant_id), datetime.now(UTC) - timedelta(seconds=1))
    tokens = await a.tokens(stale)

    expired = await a.post(tokens["id_token"], stale)

    assert code_of(made_up) == (401, "nonce_invalid")
    assert code_of(expired) == (401, "nonce_invalid")


async def test_a_token_of_another_tenant_is_refused_at_this_login_code(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    other = create_tenant(identity, name="Fabrikam")
    theirs = c.Attempt(http, identity, microsoft, other)
    ours = c.Attempt(http, identity, microsoft, tenant)
    nonce = await ours.nonce()
    their_token = await theirs.tokens(nonce)
    # The same directory, but the other connection's app registration (a multi-tenant app, say).
    foreign_app = await ours.tokens(nonce, client_id=other.application_id)

    assert code_of(await ours.post(their_token["id_token"], nonce)) == (403, "directory_not_allowed")
    assert code_of(await ours.post(foreign_app["id_token"], nonce)) == (401, "token_audience_mismatch")


async def test_a_nonce_handed_out_by_another_tenants_login_page_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    other = create_tenant(identity, name="Northwind")
    ours = c.Attempt(http, identity, microsoft, tenant)
    their_nonce = await ours.nonce(other)
    tokens = await ours.tokens(their_nonce)

    assert code_of(await ours.post(tokens["id_token"], their_nonce)) == (401, "nonce_invalid")


async def test_people_are_linked_by_directory_and_object_id_never_by_email(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    alice = await a.person(mail="shared@contoso.com")
    impostor = await a.person(mail="shared@contoso.com")

    async def user_id(oid: str) -> str:
        nonce = await a.nonce()
        response = await a.post((await a.tokens(nonce, oid=oid))["id_token"], nonce)
        assert response.status_code == 201, response.text
        return str(response.json()["user_id"])

    alice_id = await user_id(alice)
    assert await user_id(impostor) != alice_id
    await a.person(mail="alice.new@contoso.com", oid=alice)  # her mailbox is renamed
    assert await user_id(alice) == alice_id


async def test_a_graph_token_swapped_in_from_another_sign_in_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    nonce = await a.nonce()
    mine = await a.tokens(nonce)
    someone_elses = await a.tokens(nonce)

    response = await a.post(mine["id_token"], nonce, access_token=someone_elses["access_token"])

    assert code_of(response) == (401, "access_token_mismatch")


async def test_a_pending_connection_is_pinned_by_the_admins_verification_sign_in(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    pending = create_tenant(identity, name="Tailspin", directory_id=None)
    a = c.Attempt(http, identity, microsoft, pending)
    assert (await login_page(http, identity, pending.login_code))["status"] == "pending_verification"
    nonce = await a.nonce()
    refused = await a.post((await a.tokens(nonce))["id_token"], nonce)
    code = verification_code(identity, pending.login_code)
    admin_directory = c.new_guid()

    nonce = await a.nonce()
    admin_token = (await a.tokens(nonce, directory=admin_directory))["id_token"]
    verified = await http.post(
        f"{identity.url}/v1/sign-ins",
        json={"login_code": pending.login_code, "id_token": admin_token, "nonce": nonce, "verification_code": code},
    )

    assert code_of(refused) == (403, "connection_pending_verification")
    assert verified.status_code == 201, verified.text
    assert verified.json()["directory_verified"] is True
    page = await login_page(http, identity, pending.login_code)
    assert (page["status"], page["authority"].rsplit("/", 1)[1]) == ("active", admin_directory)
    nonce = await a.nonce()
    colleague = await a.post((await a.tokens(nonce, directory=admin_directory))["id_token"], nonce)
    assert code_of(colleague) == (201, None)
    nonce = await a.nonce()
    stranger = await a.post((await a.tokens(nonce, directory=c.new_guid()))["id_token"], nonce)
    assert code_of(stranger) == (403, "directory_not_allowed")
    nonce = await a.nonce()
    reused = await http.post(
        f"{identity.url}/v1/sign-ins",
        json={
            "login_code": pending.login_code,
            "nonce": nonce,
            "verification_code": code,
            "id_token": (await a.tokens(nonce, directory=c.new_guid()))["id_token"],
        },
    )
    assert code_of(reused) == (403, "verification_invalid")


def verification_code(identity: ServiceProcess, login_code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kutamo_identity", "tenants", "verification-code", "--login-code", login_code],
        env=identity.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(done.stdout)["verification_code"])


async def test_microsoft_popup_errors_get_plain_guidance_and_are_counted(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant
) -> None:
    url = f"{identity.url}/v1/login/{tenant.login_code}/microsoft-errors"
    not_found = await http.post(
        url,
        json={
            "error": "invalid_request",
            "error_description": "AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.",
        },
    )
    blocked = await http.post(url, json={"error": "popup_window_error"})
    by_number = await http.post(url, json={"error": "access_denied", "error_codes": [65004]})
    unknown = await http.post(url, json={"error": "server_error", "error_description": "AADSTS1234567: ..."})

    guidance = not_found.json()
    assert (guidance["code"], guidance["retry"]) == ("AADSTS700016", True)
    assert "20 minutes" in guidance["admin_hint"]
    assert "pop-ups" in blocked.json()["detail"]
    assert by_number.json()["code"] == "AADSTS65004"
    assert unknown.json()["code"] == "AADSTS1234567"
    metrics = await metrics_text(http, identity.url)
    assert f'kutamo_identity_microsoft_errors_total{{code="AADSTS700016",tenant_id="{tenant.tenant_id}"}}' in metrics
    assert f'kutamo_identity_microsoft_errors_total{{code="other",tenant_id="{tenant.tenant_id}"}}' in metrics


async def test_no_body_sent_to_the_sign_in_endpoints_gets_a_server_error(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant
) -> None:
    rng = random.Random(20261126)
    values: list[object] = [None, True, 0, -1, 2**63, 1.5, "", "x" * 70_000, "é", [], {}, [1, "a"], {"a": {}}]
    fields = ["login_code", "id_token", "nonce", "access_token", "access_token_expires_in", "verification_code"]
    statuses = set()
    for _ in range(150):
        body = {f: rng.choice(values) for f in rng.sample(fields, rng.randint(0, len(fields)))}
        if rng.random() < 0.5:
            body["login_code"] = tenant.login_code
        for path in ("/v1/sign-ins", f"/v1/login/{tenant.login_code}/microsoft-errors"):
            response = await http.post(identity.url + path, json=body)
            statuses.add(response.status_code)
            assert response.status_code < 500, (body, response.text)
    assert statuses <= {400, 401, 403, 404, 413}
