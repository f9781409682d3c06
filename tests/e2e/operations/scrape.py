"""Read a service's Prometheus metrics the way Prometheus does (operations/prometheus/prometheus.yml):
with the operator key, which the identity service requires (its metrics name tenants)."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import OPERATOR_KEY

AUTHORIZATION = {"Authorization": f"Bearer {OPERATOR_KEY}"}


async def metrics_text(http: httpx.AsyncClient, base_url: str) -> str:
    response = await http.get(f"{base_url}/metrics", headers=AUTHORIZATION)
    response.raise_for_status()
    return response.text


async def metrics(http: httpx.AsyncClient, base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = await metrics_text(http, base_url)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))
