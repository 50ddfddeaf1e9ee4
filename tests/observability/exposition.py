"""Reading a Prometheus exposition in tests."""

from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families


async def scrape(client: AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value, 0 when absent."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def label_values(text: str) -> set[str]:
    return {v for _name, labels in samples(text) for _k, v in labels}
