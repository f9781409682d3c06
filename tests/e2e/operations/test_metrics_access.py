"""The identity service's /metrics names tenants, so only an operator key reads it (Prometheus sends one)."""

import httpx

from tests.conftest import OPERATOR_KEY
from tests.e2e.identity.admin import Admin
from tests.e2e.operations.scrape import metrics_text
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant


async def test_metrics_name_tenants_only_for_an_operator(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant
) -> None:
    admin = Admin(http, identity, OPERATOR_KEY)
    tenant_admin_key = await admin.new_key(tenant.tenant_id)
    (await http.get(f"{identity.url}/v1/login/{tenant.login_code}")).raise_for_status()
    await http.post(f"{identity.url}/v1/login/{tenant.login_code}/microsoft-errors", json={"error": "user_cancelled"})

    anonymous = await http.get(f"{identity.url}/metrics")
    wrong_key = await http.get(f"{identity.url}/metrics", headers={"Authorization": "Bearer not-a-key"})
    tenant_admin = await http.get(f"{identity.url}/metrics", headers={"Authorization": f"Bearer {tenant_admin_key}"})

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "api_key_required")
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (401, "api_key_invalid")
    assert (tenant_admin.status_code, tenant_admin.json()["code"]) == (403, "forbidden_scope")
    assert tenant.tenant_id not in anonymous.text + wrong_key.text + tenant_admin.text
    assert f'tenant_id="{tenant.tenant_id}"' in await metrics_text(http, identity.url)
