"""Setup links as operators hand them out and as a customer's IT admin's setup page uses them, over HTTP
against the real identity service and PostgreSQL."""

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.identity.admin import Admin, unique_code
from tests.e2e.setup.page import SetupPage, secret_of
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import create_tenant

Pages = Callable[[], SetupPage]
ASK = "Ask the person at Kutamo who sent it to you for a new one."


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def new_link(operator: Admin, tenant_id: str, key: str | None = None, **body: Any) -> dict[str, Any]:
    response = await operator.call("POST", f"/{tenant_id}/setup-links", key=key, json=body or None)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def links_of(operator: Admin, tenant_id: str) -> list[dict[str, Any]]:
    response = await operator.call("GET", f"/{tenant_id}/setup-links")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def audit_of(operator: Admin, tenant_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await operator.call("GET", f"/{tenant_id}/audit-log")).json()["entries"]
    return entries


def cli(identity: ServiceProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kutamo_identity", *args],
        env=identity.env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- setup links on the admin API and the CLI ---


async def test_an_operator_creates_a_setup_link_shown_once_lists_it_and_revokes_it(
    operator: Admin, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant("Contoso")

    default = await new_link(operator, tenant_id)
    month = await new_link(operator, tenant_id, valid_days=30)
    listed = await links_of(operator, tenant_id)
    revoked = await operator.call("DELETE", f"/{tenant_id}/setup-links/{default['id']}")
    after = {link["id"]: link for link in await links_of(operator, tenant_id)}

    assert default["url"].startswith(f"{identity.url}/setup#link=kut_setup_")
    assert len(secret_of(default["url"])) >= len("kut_setup_") + 43  # 32 random bytes, base64url
    assert at(default["expires_at"]) - at(default["created_at"]) == timedelta(days=7)
    assert at(month["expires_at"]) - at(month["created_at"]) == timedelta(days=30)
    assert {link["id"] for link in listed} == {default["id"], month["id"]}
    assert {(link["status"], link["created_by"], link["last_used_at"]) for link in listed} == {
        ("active", "operator-key:env", None)
    }
    for secret in (secret_of(default["url"]), secret_of(month["url"])):
        assert secret not in json.dumps(listed)
        assert secret not in json.dumps(await audit_of(operator, tenant_id))
    assert revoked.status_code == 204
    assert (after[default["id"]]["status"], after[month["id"]]["status"]) == ("revoked", "active")
    assert after[default["id"]]["revoked_at"] is not None


@pytest.mark.parametrize("body", [{"valid_days": 0}, {"valid_days": 31}, {"valid_days": "seven"}, {"days": 7}])
async def test_a_validity_outside_1_to_30_days_or_an_unknown_field_is_refused(
    operator: Admin, body: dict[str, Any]
) -> None:
    tenant_id = await operator.new_tenant()

    problem(await operator.call("POST", f"/{tenant_id}/setup-links", json=body), 400, "malformed_request")

    assert await links_of(operator, tenant_id) == []


async def test_creating_and_revoking_links_is_in_the_audit_log_with_the_key_as_actor(operator: Admin) -> None:
    tenant_id = await operator.new_tenant()
    key = await operator.new_key(tenant_id)
    key_id = (await operator.call("GET", f"/{tenant_id}/api-keys")).json()[0]["id"]

    link = await new_link(operator, tenant_id, key=key)
    await operator.call("DELETE", f"/{tenant_id}/setup-links/{link['id']}", key=key)
    log = await audit_of(operator, tenant_id)

    assert [(e["action"], e["actor"]) for e in log[:2]] == [
        ("setup_link.revoked", f"api-key:{key_id}"),
        ("setup_link.created", f"api-key:{key_id}"),
    ]
    assert log[1]["after"]["id"] == link["id"]
    assert (await links_of(operator, tenant_id))[0]["created_by"] == f"api-key:{key_id}"


async def test_a_tenant_admin_key_gets_403_on_another_tenants_setup_links(operator: Admin) -> None:
    mine, theirs = await operator.new_tenant("Mine"), await operator.new_tenant("Theirs")
    key = await operator.new_key(mine)
    their_link = await new_link(operator, theirs)

    attempts = [
        ("POST", f"/{theirs}/setup-links", None),
        ("GET", f"/{theirs}/setup-links", None),
        ("DELETE", f"/{theirs}/setup-links/{their_link['id']}", None),
        ("POST", f"/{uuid.uuid4()}/setup-links", {"valid_days": 1}),
    ]
    for method, path, body in attempts:
        problem(await operator.call(method, path, key=key, json=body), 403, "forbidden_tenant")
    assert [link["status"] for link in await links_of(operator, theirs)] == ["active"]


async def test_revoking_a_link_of_another_tenant_or_none_at_all_is_404(operator: Admin) -> None:
    mine, theirs = await operator.new_tenant(), await operator.new_tenant()
    their_link = await new_link(operator, theirs)

    problem(await operator.call("DELETE", f"/{mine}/setup-links/{their_link['id']}"), 404, "setup_link_not_found")
    problem(await operator.call("DELETE", f"/{mine}/setup-links/{uuid.uuid4()}"), 404, "setup_link_not_found")
    problem(await operator.call("POST", f"/{uuid.uuid4()}/setup-links"), 404, "tenant_not_found")
    assert [link["status"] for link in await links_of(operator, theirs)] == ["active"]


async def test_the_cli_prints_a_setup_link_by_login_code_or_tenant_id_audited_as_cli(
    operator: Admin, identity: ServiceProcess, pages: Pages
) -> None:
    tenant_id = await operator.new_tenant()
    code = unique_code()
    await operator.put_connection(tenant_id, login_code=code)

    by_code = cli(identity, "tenants", "setup-link", "--login-code", code, "--valid-days", "3")
    by_id = cli(identity, "tenants", "setup-link", "--tenant-id", tenant_id)
    too_long = cli(identity, "tenants", "setup-link", "--tenant-id", tenant_id, "--valid-days", "31")
    unknown = cli(identity, "tenants", "setup-link", "--login-code", unique_code("nobody"))

    assert by_code.returncode == 0, by_code.stderr
    printed = json.loads(by_code.stdout)
    assert set(printed) == {"id", "url", "expires_at"}
    assert printed["url"].startswith(f"{identity.url}/setup#link=kut_setup_")
    assert by_id.returncode == 0, by_id.stderr
    assert (too_long.returncode, unknown.returncode) == (1, 1)
    assert "invalid_valid_days" in too_long.stderr
    assert "unknown_login_code" in unknown.stderr
    listed = {link["id"]: link for link in await links_of(operator, tenant_id)}
    assert set(listed) == {printed["id"], json.loads(by_id.stdout)["id"]}
    expiry = at(listed[printed["id"]]["expires_at"]) - at(listed[printed["id"]]["created_at"])
    assert expiry == timedelta(days=3)
    assert {link["created_by"] for link in listed.values()} == {"cli"}
    assert {e["actor"] for e in await audit_of(operator, tenant_id) if e["action"] == "setup_link.created"} == {"cli"}
    state = await pages().open(printed["url"])
    assert state["tenant"]["id"] == tenant_id


# --- the setup session ---


async def test_opening_a_link_sets_an_httponly_strict_cookie_scoped_to_the_setup_pages(
    operator: Admin, pages: Pages, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant("Contoso")
    link = await new_link(operator, tenant_id)
    page = pages()

    response = await page.exchange(secret_of(link["url"]))

    assert response.status_code == 204, response.text
    [header] = response.headers.get_list("set-cookie")
    name_value, *attributes = [part.strip() for part in header.split(";")]
    assert name_value.startswith("kutamo_setup=")
    cookie = name_value.removeprefix("kutamo_setup=")
    assert len(cookie) >= 43
    assert cookie not in link["url"]
    assert {a.lower() for a in attributes} >= {"httponly", "samesite=strict", "path=/setup", "max-age=3600"}
    assert "secure" not in {a.lower() for a in attributes}  # the test service runs on http://127.0.0.1
    assert response.headers["cache-control"] == "no-store"
    page.cookie = cookie
    state = (await page.call("GET", "/state")).json()
    assert state["tenant"] == {"id": tenant_id, "display_name": "Contoso"}
    assert state["connection"] is None
    assert state["link"] == {"id": link["id"], "expires_at": link["expires_at"]}
    assert state["redirect_uri"] == f"{identity.url}/login/callback"
    assert state["login_code_grace_days"] == 30
    assert len(state["csrf_token"]) >= 32
    assert state["csrf_token"] != cookie
    used = (await links_of(operator, tenant_id))[0]
    assert used["last_used_at"] is not None
    entry = (await audit_of(operator, tenant_id))[0]
    assert (entry["action"], entry["actor"]) == ("setup_link.used", f"setup-link:{link['id']}")
    assert cookie not in json.dumps(await audit_of(operator, tenant_id))


async def test_a_session_never_outlives_its_link(operator: Admin, pages: Pages, db: asyncpg.Connection) -> None:
    tenant_id = await operator.new_tenant()
    link = await new_link(operator, tenant_id, valid_days=1)
    await db.execute(
        "update identity.setup_links set expires_at = now() + interval '10 minutes' where id = $1",
        uuid.UUID(link["id"]),
    )

    response = await pages().exchange(secret_of(link["url"]))

    max_age = int(response.headers["set-cookie"].lower().split("max-age=")[1].split(";")[0])
    assert 590 <= max_age <= 600


async def test_unknown_expired_and_revoked_links_are_refused_alike_for_every_tenant(
    operator: Admin, pages: Pages, db: asyncpg.Connection
) -> None:
    bodies: dict[str, list[dict[str, Any]]] = {"expired": [], "revoked": []}
    for name in ("Contoso", "Fabrikam"):
        tenant_id = await operator.new_tenant(name)
        expired, revoked = await new_link(operator, tenant_id), await new_link(operator, tenant_id)
        await db.execute(
            "update identity.setup_links set expires_at = now() - interval '1 second' where id = $1",
            uuid.UUID(expired["id"]),
        )
        await operator.call("DELETE", f"/{tenant_id}/setup-links/{revoked['id']}")
        bodies["expired"].append(problem(await pages().exchange(secret_of(expired["url"])), 410, "setup_link_expired"))
        bodies["revoked"].append(problem(await pages().exchange(secret_of(revoked["url"])), 410, "setup_link_revoked"))
        for body in bodies["expired"][-1:] + bodies["revoked"][-1:]:
            assert tenant_id not in json.dumps(body)
            assert name not in json.dumps(body)
    unknown = problem(await pages().exchange("kut_setup_" + "x" * 43), 404, "setup_link_unknown")
    not_ours = problem(await pages().exchange("anything"), 404, "setup_link_unknown")

    assert bodies["expired"][0] == bodies["expired"][1]
    assert bodies["revoked"][0] == bodies["revoked"][1]
    assert unknown == not_ours
    assert unknown["detail"] == "This setup link is not valid. " + ASK
    assert "expired" in bodies["expired"][0]["detail"]
    assert ASK in bodies["expired"][0]["detail"]
    assert ASK in bodies["revoked"][0]["detail"]
    assert not (await pages().exchange("")).is_success
    problem(await pages().exchange("kut_setup_x", Origin="https://evil.example"), 403, "csrf_failed")


async def test_revoking_a_link_ends_its_session(operator: Admin, pages: Pages) -> None:
    tenant_id = await operator.new_tenant()
    link = await new_link(operator, tenant_id)
    page = pages()
    await page.open(link["url"])

    await operator.call("DELETE", f"/{tenant_id}/setup-links/{link['id']}")

    problem(await page.call("GET", "/state"), 401, "setup_session_required")
    problem(await page.call("POST", "/connection/disable"), 401, "setup_session_required")


async def test_an_expired_session_or_a_link_expired_meanwhile_needs_the_link_again(
    operator: Admin, pages: Pages, db: asyncpg.Connection
) -> None:
    tenant_id = await operator.new_tenant()
    first, second = await new_link(operator, tenant_id), await new_link(operator, tenant_id)
    old_session, link_gone = pages(), pages()
    await old_session.open(first["url"])
    await link_gone.open(second["url"])

    await db.execute(
        "update identity.setup_sessions set expires_at = now() - interval '1 second' where link_id = $1",
        uuid.UUID(first["id"]),
    )
    await db.execute(
        "update identity.setup_links set expires_at = now() - interval '1 second' where id = $1",
        uuid.UUID(second["id"]),
    )

    body = problem(await old_session.call("GET", "/state"), 401, "setup_session_required")
    problem(await link_gone.call("GET", "/state"), 401, "setup_session_required")
    assert body["detail"].endswith("Open your setup link again.")
    assert (await pages().open(first["url"]))["tenant"]["id"] == tenant_id


ROUTES = [
    ("GET", "/state", None),
    ("GET", "/login-codes/contoso", None),
    ("PUT", "/connection", {"application_id": str(uuid.uuid4()), "login_code": "contoso"}),
    ("POST", "/connection/disable", None),
    ("POST", "/connection/enable", None),
    ("POST", "/verification-code", None),
    ("GET", "/sign-ins", None),
    ("GET", "/audit-log", None),
]


async def test_every_setup_api_route_needs_the_session_cookie(pages: Pages) -> None:
    page = pages()
    for method, path, body in ROUTES:
        for cookie in (None, "made-up", "", "x" * 300):
            response = await page.call(method, path, cookie=cookie, csrf="anything", json=body)
            problem(response, 401, "setup_session_required")


# --- CSRF ---


async def test_changes_without_the_csrf_token_with_a_wrong_one_or_from_another_origin_are_refused(
    operator: Admin, pages: Pages, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant()
    await operator.put_connection(tenant_id, login_code=unique_code(), user_note="before")
    page = pages()
    await page.open((await new_link(operator, tenant_id))["url"])
    put = {"application_id": str(uuid.uuid4()), "login_code": unique_code(), "user_note": "after"}
    changes = [("PUT", "/connection", put), ("POST", "/connection/disable", None),
               ("POST", "/connection/enable", None), ("POST", "/verification-code", None)]  # fmt: skip

    for method, path, body in changes:
        for refused in (
            await page.call(method, path, csrf=None, json=body),
            await page.call(method, path, csrf="0" * 64, json=body),
            await page.call(method, path, origin="https://evil.example", json=body),
            await page.call(method, path, origin="null", json=body),
        ):
            problem(refused, 403, "csrf_failed")
    unchanged = (await operator.call("GET", f"/{tenant_id}/azure-ad")).json()

    assert (unchanged["user_note"], unchanged["status"]) == ("before", "pending_verification")
    through_link = [e["action"] for e in await audit_of(operator, tenant_id) if e["actor"].startswith("setup-link:")]
    assert through_link == ["setup_link.used"]
    accepted = await page.call("PUT", "/connection", origin=identity.url, json=put)
    assert accepted.status_code == 200, accepted.text
    assert (await page.call("GET", "/state", csrf=None)).status_code == 200


async def test_a_csrf_token_belongs_to_its_own_session(operator: Admin, pages: Pages) -> None:
    tenant_id = await operator.new_tenant()
    link = await new_link(operator, tenant_id)
    first, second = pages(), pages()
    await first.open(link["url"])
    await second.open(link["url"])

    assert first.csrf != second.csrf
    problem(await first.call("POST", "/connection/disable", csrf=second.csrf), 403, "csrf_failed")


# --- the setup API acts as the admin API does, on the link's tenant only ---


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"application_id": "not-a-guid"}, 400, "invalid_application_id"),
        ({"login_code": "ab"}, 400, "invalid_login_code"),
        ({"login_code": "my-company"}, 400, "invalid_login_code"),
        ({"login_code": "Admin"}, 400, "reserved_login_code"),
        ({"user_note": "x" * 501}, 400, "invalid_user_note"),
        ({"user_note": "bell\x07"}, 400, "invalid_user_note"),
        ({"directory_id": "contoso.onmicrosoft.com"}, 400, "invalid_directory_id"),
        ({"sign_in_flow": "hybrid"}, 400, "malformed_request"),
        ({"tenant_id": str(uuid.uuid4())}, 400, "malformed_request"),
    ],
)
async def test_the_setup_api_refuses_each_connection_rule_with_the_admin_apis_code(
    operator: Admin, pages: Pages, fields: dict[str, str], status: int, code: str
) -> None:
    tenant_id = await operator.new_tenant()
    page = pages()
    await page.open((await new_link(operator, tenant_id))["url"])

    body = {"application_id": str(uuid.uuid4()), "login_code": unique_code(), **fields}
    problem(await page.call("PUT", "/connection", json=body), status, code)

    problem(await operator.call("GET", f"/{tenant_id}/azure-ad"), 404, "connection_not_found")


async def test_a_taken_login_code_is_a_409_through_the_setup_api_too(operator: Admin, pages: Pages) -> None:
    theirs, mine = await operator.new_tenant(), await operator.new_tenant()
    code = unique_code("Fabrikam")
    await operator.put_connection(theirs, login_code=code)
    page = pages()
    await page.open((await new_link(operator, mine))["url"])

    response = await page.call("PUT", "/connection", json={"application_id": str(uuid.uuid4()), "login_code": code})

    assert "already used" in problem(response, 409, "login_code_taken")["detail"]


async def test_the_it_admin_configures_verifies_disables_and_enables_the_connection_through_the_link(
    operator: Admin, pages: Pages, identity: ServiceProcess
) -> None:
    tenant_id = await operator.new_tenant()
    link = await new_link(operator, tenant_id)
    page = pages()
    await page.open(link["url"])
    app_id, code = str(uuid.uuid4()), unique_code("Contoso")

    put = await page.call(
        "PUT", "/connection", json={"application_id": app_id.upper(), "login_code": code, "user_note": "Hi\nthere",
                                    "sign_in_flow": "pkce"},
    )  # fmt: skip
    state = (await page.call("GET", "/state")).json()
    seen_by_admin_api = (await operator.call("GET", f"/{tenant_id}/azure-ad")).json()
    verification = await page.call("POST", "/verification-code")
    disabled = await page.call("POST", "/connection/disable")
    enabled = await page.call("POST", "/connection/enable")
    directory = str(uuid.uuid4())
    proposed = await page.call(
        "PUT", "/connection", json={"application_id": app_id, "login_code": code, "directory_id": directory}
    )
    again = await page.call("POST", "/verification-code")

    assert put.status_code == 200, put.text
    assert put.json() == seen_by_admin_api
    assert (put.json()["application_id"], put.json()["login_code"]) == (app_id, code)
    assert (put.json()["status"], put.json()["sign_in_flow"]) == ("pending_verification", "pkce")
    assert put.json()["redirect_uri"] == f"{identity.url}/login/callback"
    assert state["connection"] == put.json()
    assert verification.status_code == 201, verification.text
    assert set(verification.json()) >= {"verification_code", "expires_at"}
    assert disabled.json()["status"] == "disabled"
    assert enabled.json()["status"] == "pending_verification"
    # A directory entered through a setup link is only proposed: the verification sign-in from it pins it.
    assert (proposed.json()["status"], proposed.json()["directory_id"]) == ("pending_verification", None)
    assert (proposed.json()["proposed_directory_id"], proposed.json()["verification_required"]) == (directory, True)
    assert again.status_code == 201, again.text


async def test_the_audit_log_names_the_setup_link_as_the_actor_of_every_change_made_through_it(
    operator: Admin, pages: Pages
) -> None:
    tenant_id = await operator.new_tenant()
    link = await new_link(operator, tenant_id)
    page = pages()
    await page.open(link["url"])
    await page.call("PUT", "/connection", json={"application_id": str(uuid.uuid4()), "login_code": unique_code()})
    await page.call("POST", "/verification-code")
    await page.call("POST", "/connection/disable")

    through_page = (await page.call("GET", "/audit-log")).json()
    paged = (await page.call("GET", "/audit-log", params={"limit": 2})).json()

    actions = [(e["action"], e["actor"]) for e in through_page["entries"]]
    actor = f"setup-link:{link['id']}"
    assert actions == [
        ("azure_ad.disabled", actor),
        ("azure_ad.verification_code_created", actor),
        ("azure_ad.created", actor),
        ("setup_link.used", actor),
        ("setup_link.created", "operator-key:env"),
        ("tenant.created", "operator-key:env"),
    ]
    assert through_page == {"entries": await audit_of(operator, tenant_id), "next_before": None}
    assert [e["id"] for e in paged["entries"]] == [e["id"] for e in through_page["entries"][:2]]
    assert paged["next_before"] == through_page["entries"][1]["id"]
    problem(await page.call("GET", "/audit-log", params={"limit": 500}), 400, "malformed_request")


async def test_login_code_availability_answers_without_reserving_anything(
    operator: Admin, pages: Pages, identity: ServiceProcess, db: asyncpg.Connection
) -> None:
    theirs, mine = await operator.new_tenant(), await operator.new_tenant()
    their_code, their_old_code, my_old, my_code, free = (unique_code(p) for p in ("th", "old", "mo", "my", "free"))
    their_app, my_app = str(uuid.uuid4()), str(uuid.uuid4())
    await operator.put_connection(theirs, login_code=their_old_code, application_id=their_app)
    await operator.put_connection(theirs, login_code=their_code, application_id=their_app)
    await operator.put_connection(mine, login_code=my_old, application_id=my_app)
    await operator.put_connection(mine, login_code=my_code, application_id=my_app)
    page = pages()
    await page.open((await new_link(operator, mine))["url"])

    async def availability(code: str) -> str:
        response = await page.call("GET", f"/login-codes/{code}")
        assert response.status_code == 200, response.text
        assert response.json()["code"] == code
        assert response.json()["detail"]
        return str(response.json()["availability"])

    answers = {
        code: await availability(code)
        for code in (free, free.upper(), their_code.upper(), their_old_code, my_code, my_code.upper(), my_old,
                     "Admin", "callback", "ab", "my-company", "x" * 40)
    }  # fmt: skip
    available = (await page.call("GET", f"/login-codes/{free}")).json()

    assert answers == {
        free: "available", free.upper(): "available",
        their_code.upper(): "taken", their_old_code: "taken",  # in use, or within its rename grace period
        my_code: "current", my_code.upper(): "current", my_old: "available",  # a tenant may take back its own
        "Admin": "reserved", "callback": "reserved",
        "ab": "invalid", "my-company": "invalid", "x" * 40: "invalid",
    }  # fmt: skip
    assert available["login_url"] == f"{identity.url}/login/{free}"
    assert my_code in available["detail"]  # the current code keeps working for the grace period
    assert (await page.call("GET", "/login-codes/Admin")).json()["login_url"] is None
    assert await db.fetchval("select count(*) from identity.login_codes where code_lower = $1", free) == 0
    await db.execute(
        "update identity.login_codes set expires_at = now() - interval '1 second' where code_lower = $1",
        their_old_code,
    )
    assert await availability(their_old_code) == "available"


async def test_a_link_of_one_tenant_can_neither_read_nor_change_another(operator: Admin, pages: Pages) -> None:
    mine, theirs = await operator.new_tenant("Mine"), await operator.new_tenant("Theirs")
    their_code = unique_code("theirs")
    await operator.put_connection(theirs, login_code=their_code, user_note="Theirs")
    their_before = (await operator.call("GET", f"/{theirs}/azure-ad")).json()
    their_audit = await audit_of(operator, theirs)
    my_key = await operator.new_key(mine)
    link = await new_link(operator, mine)
    page = pages()
    await page.open(link["url"])
    put = {"application_id": str(uuid.uuid4()), "login_code": unique_code(), "user_note": "Mine"}

    state = await page.call("GET", "/state", params={"tenant_id": theirs})
    smuggled = await page.call("PUT", "/connection", json={**put, "tenant_id": theirs})
    put_with_their_id = await page.call("PUT", "/connection", params={"tenant_id": theirs}, json=put)
    await page.call("POST", "/connection/disable", params={"tenant_id": theirs})
    code = await page.call("GET", f"/login-codes/{their_code}")
    audit = await page.call("GET", "/audit-log", params={"tenant_id": theirs})
    sign_ins = await page.call("GET", "/sign-ins", params={"tenant_id": theirs})
    foreign_path = await page.call("GET", f"/tenants/{theirs}/state")

    assert state.json()["tenant"] == {"id": mine, "display_name": "Mine"}
    problem(smuggled, 400, "malformed_request")
    assert put_with_their_id.json()["tenant_id"] == mine
    assert code.json()["availability"] == "taken"
    assert {e["actor"] for e in audit.json()["entries"]} == {"operator-key:env", f"setup-link:{link['id']}"}
    assert their_code not in audit.text
    assert sign_ins.json() == {"sign_ins": []}
    problem(foreign_path, 404, "not_found")
    assert (await operator.call("GET", f"/{theirs}/azure-ad")).json() == their_before
    assert await audit_of(operator, theirs) == their_audit
    assert (await operator.call("GET", f"/{mine}/azure-ad")).json()["status"] == "disabled"
    problem(await operator.call("GET", f"/{theirs}/setup-links", key=my_key), 403, "forbidden_tenant")
    problem(await operator.call("POST", f"/{theirs}/setup-links", key=my_key), 403, "forbidden_tenant")


async def test_the_database_hides_other_tenants_setup_links_from_a_query_without_a_filter(
    operator: Admin, database_url: str
) -> None:
    mine, theirs = await operator.new_tenant(), await operator.new_tenant()
    await new_link(operator, mine)
    await new_link(operator, theirs)
    conn = await asyncpg.connect(database_url, server_settings={"role": "kutamo_identity_app"})
    try:
        without_context = await conn.fetchval("select count(*) from identity.setup_links")
        async with conn.transaction():
            await conn.execute("select set_config('kutamo.tenant_id', $1, true)", mine)
            visible = await conn.fetch("select tenant_id from identity.setup_links")
            sessions = await conn.fetchval(
                "select count(*) from identity.setup_sessions where tenant_id <> $1", uuid.UUID(mine)
            )
    finally:
        await conn.close()

    assert without_context == 0
    assert [str(r["tenant_id"]) for r in visible] == [mine]
    assert sessions == 0


# --- the tenant's last sign-ins ---


async def test_the_last_sign_ins_show_accepted_people_by_name_and_refusals_by_code(
    operator: Admin, pages: Pages, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator
) -> None:
    tenant = create_tenant(identity, name="Northwind")
    person = await microsoft.add_user(tenant.directory_id, name="Adele Vance", mail="adele@northwind.test", title="PM")
    accepted = await sign_in(http, identity, microsoft, tenant, person["oid"])
    stranger = await microsoft.add_user(str(uuid.uuid4()), name="Eve Stranger", mail="eve@evil.test", title=None)
    refused = await sign_in(http, identity, microsoft, tenant, stranger["oid"], directory=stranger["tid"])
    page = pages()
    await page.open((await new_link(operator, tenant.tenant_id))["url"])

    listed = await page.call("GET", "/sign-ins")
    one = await page.call("GET", "/sign-ins", params={"limit": 1})

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 403, refused.text
    assert listed.status_code == 200, listed.text
    sign_ins = listed.json()["sign_ins"]
    assert [(s["name"], s["result"]) for s in sign_ins] == [(None, "directory_not_allowed"), ("Adele Vance", "ok")]
    assert at(sign_ins[0]["at"]) >= at(sign_ins[1]["at"])
    assert "Eve" not in listed.text
    assert one.json()["sign_ins"] == sign_ins[:1]
    problem(await page.call("GET", "/sign-ins", params={"limit": 51}), 400, "malformed_request")


async def test_only_the_newest_100_refusals_of_a_tenant_are_kept(
    http: httpx.AsyncClient, identity: ServiceProcess, db: asyncpg.Connection
) -> None:
    tenant = create_tenant(identity, name="Flooded")
    for _ in range(103):
        response = await http.post(
            f"{identity.url}/v1/sign-ins", json={"login_code": tenant.login_code, "id_token": "a.b.c", "nonce": "n"}
        )
        assert response.json()["code"] == "token_malformed"

    kept = await db.fetch(
        "select code from identity.sign_in_refusals where tenant_id = $1", uuid.UUID(tenant.tenant_id)
    )

    assert len(kept) == 100
    assert {r["code"] for r in kept} == {"token_malformed"}
