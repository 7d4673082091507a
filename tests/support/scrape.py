"""Reading a hub's ``/metrics`` as Prometheus does: one GET, parsed with the client
library's own parser (``text_string_to_metric_families``), never with a regex."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """The families of one scrape, and a lookup of one sample's value."""

    families: dict[str, Metric]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        return cls({family.name: family for family in text_string_to_metric_families(text)})

    def value(self, sample: str, **labels: str) -> float:
        """The value of the sample named ``sample`` (``..._total``, ``..._count``) whose
        labels include ``labels``; the sum when several match, 0 when none does."""
        total = 0.0
        for family in self.families.values():
            for found in family.samples:
                if found.name == sample and _matches(found.labels, labels):
                    total += found.value
        return total

    def sample_names(self) -> set[str]:
        """Every sample name the hub exports, with the suffixes a family's type gives
        even before it has a sample (a labelled histogram nobody observed yet)."""
        names: set[str] = set()
        for family in self.families.values():
            names.update(s.name for s in family.samples)
            names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        return names

    def family_of(self, sample: str) -> Metric:
        """The family a sample name belongs to (``x_bucket`` -> histogram ``x``)."""
        for family in self.families.values():
            if any(family.name + suffix == sample
                   for suffix in _SUFFIXES.get(family.type, ("",))):
                return family
        raise KeyError(sample)

    def labels_of(self, sample: str) -> set[str]:
        """The label names the family of ``sample`` has (``le`` for buckets)."""
        found = {name for s in self.family_of(sample).samples for name in s.labels}
        return found if sample.endswith("_bucket") else found - {"le"}


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
    "gauge": ("",),
}


def _matches(have: Mapping[str, str], want: Mapping[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())


async def scrape(http: httpx.AsyncClient, **headers: str) -> Scrape:
    """GET /metrics (it must answer 200 in the text format) and parse it."""
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Scrape.parse(response.text)
