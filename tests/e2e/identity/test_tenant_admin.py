"""The tenant admin API as IT admins and operators use it, on the real PostgreSQL."""

import asyncio
import json
import subprocess
import sys
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import OPERATOR_KEY
from tests.e2e.identity.admin import Admin, unique_code
from tests.support.processes import ServiceProcess


@pytest.fixture
def operator(http: httpx.AsyncClient, identity: ServiceProcess) -> Admin:
    return Admin(http, identity, OPERATOR_KEY)


def problem(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    return str(response.json()["detail"])


async def test_an_operator_creates_a_tenant_and_a_tenant_admin_key_shown_once(operator: Admin) -> None:
    tenant_id = await operator.new_tenant("Contoso Ltd")
    created = await operator.call("POST", f"/{tenant_id}/api-keys", json={"name": "Contoso IT"})
    key = created.json()["key"]

    tenant = await operator.call("GET", f"/{tenant_id}", key=key)
    listed = await operator.call("GET", f"/{tenant_id}/api-keys", key=key)

    assert created.status_code == 201
    assert (created.json()["scope"], created.json()["tenant_id"]) == ("tenant-admin", tenant_id)
    assert tenant.json()["display_name"] == "Contoso Ltd"
    assert [k["name"] for k in listed.json()] == ["Contoso IT"]
    assert key not in listed.text
    assert "key" not in listed.json()[0]
    assert listed.json()[0]["prefix"] == key[:10]


async def test_requests_without_a_valid_key_get_401_and_a_revoked_key_stops_working(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    key_id = (await operator.call("GET", f"/{tenant_id}/api-keys")).json()[0]["id"]

    no_key = await operator.http.get(f"{operator.base}/{tenant_id}")
    wrong_key = await operator.call("GET", f"/{tenant_id}", key="kut_not-a-real-key")
    revoked = await operator.call("DELETE", f"/{tenant_id}/api-keys/{key_id}")
    after = await operator.call("GET", f"/{tenant_id}", key=key)

    problem(no_key, 401, "api_key_required")
    problem(wrong_key, 401, "api_key_invalid")
    assert revoked.status_code == 204
    problem(after, 401, "api_key_invalid")


async def test_a_tenant_admin_key_cannot_do_what_only_operators_may(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)

    problem(await operator.call("POST", "", key=key, json={"display_name": "Mine"}), 403, "forbidden_scope")
    problem(await operator.call("POST", f"/{tenant_id}/api-keys", key=key, json={}), 403, "forbidden_scope")


async def test_the_connection_is_stored_as_entered_and_shown_with_status_and_login_url(
    operator: Admin, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    app_id = str(uuid.uuid4()).upper()
    note = 'Use your <b>Contoso</b> account & "SSO" — not your personal one.\n2nd line'
    code = unique_code("Contoso")

    put = await operator.put_connection(tenant_id, key=key, application_id=app_id, login_code=code, user_note=note)
    got = await operator.call("GET", f"/{tenant_id}/azure-ad", key=key)

    assert put.status_code == 200, put.text
    connection = got.json()
    assert connection["application_id"] == app_id.lower()
    assert connection["login_code"] == code
    assert connection["user_note"] == note
    assert connection["status"] == "pending_verification"
    assert connection["login_url"] == f"{identity.url}/login/{code}"
    page = await operator.http.get(f"{identity.url}/v1/login/{code.lower()}")
    assert page.json()["user_note"] == note
    assert set(page.json()["popup_help"]) >= {"chrome", "firefox", "edge"}


@pytest.mark.parametrize(
    ("fields", "code", "hint"),
    [
        ({"application_id": "not-a-guid"}, "invalid_application_id", "App registrations"),
        ({"application_id": "1b4e28ba2fa111d2883f0016d3cca427"}, "invalid_application_id", "Application (client) ID"),
        ({"login_code": "ab"}, "invalid_login_code", "3 to 32"),
        ({"login_code": "a" * 33}, "invalid_login_code", "3 to 32"),
        ({"login_code": "my-company"}, "invalid_login_code", "letters or digits"),
        ({"login_code": "my company"}, "invalid_login_code", "letters or digits"),
        ({"login_code": "société"}, "invalid_login_code", "letters or digits"),
        ({"login_code": "Admin"}, "reserved_login_code", "reserved"),
        ({"login_code": "kutamo"}, "reserved_login_code", "reserved"),
        ({"user_note": "x" * 501}, "invalid_user_note", "500"),
        ({"directory_id": "contoso.onmicrosoft.com"}, "invalid_directory_id", "Tenant ID"),
    ],
)
async def test_each_rule_of_the_connection_form_is_refused_with_its_code(
    operator: Admin, fields: dict[str, str], code: str, hint: str
) -> None:
    tenant_id = await operator.new_tenant()

    detail = problem(await operator.put_connection(tenant_id, **fields), 400, code)

    assert hint in detail


async def test_a_login_code_taken_by_another_tenant_is_a_409_whatever_its_case(operator: Admin) -> None:
    first, second = await operator.new_tenant(), await operator.new_tenant()
    code = unique_code("Fabrikam")
    assert (await operator.put_connection(first, login_code=code)).status_code == 200

    detail = problem(await operator.put_connection(second, login_code=code.upper()), 409, "login_code_taken")

    assert "already used" in detail


async def test_two_tenants_claiming_one_code_at_the_same_time_end_with_exactly_one_winner(operator: Admin) -> None:
    for _ in range(5):
        tenants = [await operator.new_tenant() for _ in range(4)]
        code = unique_code("race")
        answers = await asyncio.gather(*(operator.put_connection(t, login_code=code) for t in tenants))
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]


async def test_a_renamed_code_keeps_working_for_the_grace_period_and_then_frees_up(
    operator: Admin, identity: ServiceProcess, db: asyncpg.Connection
) -> None:
    tenant_id, other = await operator.new_tenant("Contoso"), await operator.new_tenant("Other")
    old, new = unique_code("old"), unique_code("new")
    app_id = str(uuid.uuid4())
    await operator.put_connection(tenant_id, login_code=old, application_id=app_id)
    await operator.put_connection(tenant_id, login_code=new, application_id=app_id)

    via_old = await operator.http.get(f"{identity.url}/v1/login/{old}")
    assert via_old.status_code == 200
    assert (via_old.json()["organisation_name"], via_old.json()["login_code"]) == ("Contoso", new)
    problem(await operator.put_connection(other, login_code=old), 409, "login_code_taken")

    await db.execute(
        "update identity.login_codes set expires_at = now() - interval '1 second' where code_lower = $1", old
    )

    problem(await operator.http.get(f"{identity.url}/v1/login/{old}"), 404, "unknown_login_code")
    assert (await operator.put_connection(other, login_code=old)).status_code == 200


async def test_disabling_stops_sign_in_without_losing_the_configuration_and_delete_removes_it(
    operator: Admin, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant()
    code = unique_code()
    await operator.put_connection(tenant_id, login_code=code, directory_id=str(uuid.uuid4()), user_note="Hi")

    disabled = await operator.call("POST", f"/{tenant_id}/azure-ad/disable")
    page_while_disabled = await operator.http.get(f"{identity.url}/v1/login/{code}")
    enabled = await operator.call("POST", f"/{tenant_id}/azure-ad/enable")
    page_again = await operator.http.get(f"{identity.url}/v1/login/{code}")
    deleted = await operator.call("DELETE", f"/{tenant_id}/azure-ad")
    sign_in = await operator.http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": code, "id_token": "a.b.c", "nonce": "n"}
    )

    assert disabled.json()["status"] == "disabled"
    problem(page_while_disabled, 404, "unknown_login_code")
    assert (enabled.json()["status"], enabled.json()["user_note"]) == ("active", "Hi")
    assert page_again.status_code == 200
    assert deleted.status_code == 204
    problem(sign_in, 404, "unknown_login_code")
    problem(await operator.call("GET", f"/{tenant_id}/azure-ad"), 404, "connection_not_found")


async def test_the_audit_log_says_who_changed_what_newest_first_without_secrets(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    key_id = (await operator.call("GET", f"/{tenant_id}/api-keys")).json()[0]["id"]
    first_code, second_code = unique_code(), unique_code()
    await operator.put_connection(tenant_id, key=key, login_code=first_code, user_note="v1")
    await operator.put_connection(tenant_id, key=key, login_code=second_code, user_note="v2")
    await operator.call("POST", f"/{tenant_id}/azure-ad/disable", key=key)

    log = (await operator.call("GET", f"/{tenant_id}/audit-log", key=key)).json()["entries"]

    assert [e["action"] for e in log] == [
        "azure_ad.disabled", "azure_ad.updated", "azure_ad.created", "api_key.created", "tenant.created",
    ]  # fmt: skip
    assert {e["actor"] for e in log[:3]} == {f"api-key:{key_id}"}
    assert log[-1]["actor"] == "operator-key:env"
    updated = log[1]
    assert (updated["before"]["user_note"], updated["after"]["user_note"]) == ("v1", "v2")
    assert (updated["before"]["login_code"], updated["after"]["login_code"]) == (first_code, second_code)
    assert key not in str(log)
    assert OPERATOR_KEY not in str(log)
    page = (await operator.call("GET", f"/{tenant_id}/audit-log", params={"limit": 2})).json()
    rest = (await operator.call("GET", f"/{tenant_id}/audit-log", params={"before": page["next_before"]})).json()
    assert [e["id"] for e in page["entries"] + rest["entries"]] == [e["id"] for e in log]


async def test_a_tenant_admin_gets_403_on_every_endpoint_of_another_tenant(operator: Admin) -> None:
    mine, theirs = await operator.new_tenant("Mine"), await operator.new_tenant("Theirs")
    key = await operator.new_key(mine)
    await operator.put_connection(theirs)
    their_key = (await operator.call("GET", f"/{theirs}/api-keys")).json()
    attempts = [
        ("GET", f"/{theirs}", None),
        ("GET", f"/{theirs}/api-keys", None),
        ("POST", f"/{theirs}/api-keys", {"name": "x"}),
        ("DELETE", f"/{theirs}/api-keys/{uuid.uuid4()}", None),
        ("PUT", f"/{theirs}/azure-ad", {"application_id": str(uuid.uuid4()), "login_code": unique_code()}),
        ("GET", f"/{theirs}/azure-ad", None),
        ("DELETE", f"/{theirs}/azure-ad", None),
        ("POST", f"/{theirs}/azure-ad/disable", None),
        ("POST", f"/{theirs}/azure-ad/enable", None),
        ("POST", f"/{theirs}/azure-ad/verification-codes", None),
        ("GET", f"/{theirs}/audit-log", None),
    ]

    for method, path, body in attempts:
        response = await operator.call(method, path, key=key, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] in ("forbidden_tenant", "forbidden_scope")
    assert (await operator.call("GET", f"/{theirs}/azure-ad")).json()["status"] == "pending_verification"
    assert their_key == (await operator.call("GET", f"/{theirs}/api-keys")).json()


async def test_the_database_itself_hides_other_tenants_from_a_query_without_a_filter(
    operator: Admin, database_url: str
) -> None:
    mine, theirs = await operator.new_tenant(), await operator.new_tenant()
    await operator.put_connection(mine)
    await operator.put_connection(theirs)
    conn = await asyncpg.connect(database_url, server_settings={"role": "kutamo_identity_app"})
    try:
        without_context = await conn.fetchval("select count(*) from identity.azure_ad_connections")
        async with conn.transaction():
            await conn.execute("select set_config('kutamo.tenant_id', $1, true)", mine)
            visible = await conn.fetch("select tenant_id from identity.azure_ad_connections")
            tenants = await conn.fetchval("select count(*) from identity.tenants")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "insert into identity.audit_log (tenant_id, at, actor, action) values ($1, now(), 'x', 'forged')",
                    uuid.UUID(theirs),
                )
    finally:
        await conn.close()

    assert without_context == 0
    assert [str(r["tenant_id"]) for r in visible] == [mine]
    assert tenants == 1


async def test_a_pending_connection_gets_a_verification_code_from_the_api(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    await operator.put_connection(tenant_id, key=key)

    created = await operator.call("POST", f"/{tenant_id}/azure-ad/verification-codes", key=key)
    proposed = await operator.put_connection(tenant_id, key=key, directory_id=str(uuid.uuid4()))
    still_needed = await operator.call("POST", f"/{tenant_id}/azure-ad/verification-codes", key=key)
    await operator.put_connection(tenant_id, directory_id=str(uuid.uuid4()))  # an operator pins at once
    again = await operator.call("POST", f"/{tenant_id}/azure-ad/verification-codes", key=key)

    assert created.status_code == 201
    assert created.json()["login_url"].endswith(f"?verification_code={created.json()['verification_code']}")
    assert proposed.json()["status"] == "pending_verification"
    assert still_needed.status_code == 201, "a tenant admin's directory is only proposed until verified"
    problem(again, 400, "already_verified")


async def test_the_openapi_document_describes_every_admin_endpoint_and_its_errors(
    http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    document = (await http.get(f"{identity.url}/schema/openapi.json")).json()
    paths = document["paths"]

    for path in ["/v1/tenants", "/v1/tenants/{tenant_id}", "/v1/tenants/{tenant_id}/api-keys",
                 "/v1/tenants/{tenant_id}/api-keys/{key_id}", "/v1/tenants/{tenant_id}/azure-ad",
                 "/v1/tenants/{tenant_id}/audit-log", "/v1/login/{login_code}", "/v1/sign-ins"]:  # fmt: skip
        assert path in paths, path
    put = paths["/v1/tenants/{tenant_id}/azure-ad"]["put"]
    assert {"400", "401", "403", "409"} <= set(put["responses"])
    assert "application/problem+json" in put["responses"]["409"]["content"]
    assert "apiKey" in document["components"]["securitySchemes"]


def cli(identity: ServiceProcess, *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kutamo_identity", *args],
        env=identity.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result: dict[str, str] = json.loads(done.stdout)
    return result


async def test_keys_made_with_the_cli_work_on_the_api_within_their_scope(
    operator: Admin, identity: ServiceProcess
) -> None:
    ops = cli(identity, "keys", "create", "--operator", "--name", "ops team")
    tenant_id = await operator.new_tenant()
    admin = cli(identity, "keys", "create", "--tenant-id", tenant_id, "--name", "Contoso IT")

    assert (await operator.call("POST", "", key=ops["key"], json={"display_name": "By CLI key"})).status_code == 201
    assert (await operator.call("GET", f"/{tenant_id}", key=admin["key"])).status_code == 200
    problem(await operator.call("POST", "", key=admin["key"], json={"display_name": "x"}), 403, "forbidden_scope")


async def test_an_audit_page_cursor_beyond_any_id_is_a_400_not_a_server_error(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()

    response = await operator.call(
        "GET", f"/{tenant_id}/audit-log", params={"before": "28144250510913888881646040514560"}
    )

    problem(response, 400, "malformed_request")


async def test_control_characters_in_names_and_notes_are_refused_not_stored(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()

    problem(await operator.call("POST", "", json={"display_name": "Con\x00toso"}), 400, "invalid_display_name")
    problem(await operator.put_connection(tenant_id, user_note="Hello\x00"), 400, "invalid_user_note")
    problem(await operator.call("POST", f"/{tenant_id}/api-keys", json={"name": "bell\x07"}), 400, "invalid_name")
    assert (await operator.put_connection(tenant_id, user_note="Line one\nLine two\tand a tab")).status_code == 200
