"""Read a service's Prometheus metrics the way Prometheus does."""

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def metrics(http: httpx.AsyncClient, base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = (await http.get(f"{base_url}/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))
