"""The API's gauges of the SQL read model: requests, breached levels, invoices, and up."""

from __future__ import annotations

from pathlib import Path

from store.async_db import make_async_engine
from telemetry.read_model_metrics import ReadModelCollector
from tests.telemetry.conftest import Scenario


async def test_the_api_exports_the_read_model_gauges(scenario: Scenario) -> None:
    api = scenario.api_metrics
    assert api.value("signoff_read_model_up") == 1
    assert api.value("signoff_requests", template="purchase", status="IN_PROGRESS") >= 1
    seeded = scenario.seeded_template
    assert api.value("signoff_requests", template=seeded, status="IN_PROGRESS", sla="BREACHED") == 1
    # Two of the seeded request's three levels were breached.
    assert api.value("signoff_request_levels_breached", template=seeded) == 2
    assert api.value("signoff_invoices", status="NEEDS_REVIEW") >= 1
    # The API's own metrics are there too, by route template.
    assert api.value("signoff_http_requests_total", route="/api/v1/requests", status="201") >= 1


async def test_a_database_that_does_not_answer_reads_as_down(tmp_path: Path) -> None:
    collector = ReadModelCollector(ttl=0)
    # A folder where the SQLite file should be: opening it fails.
    engine = make_async_engine(f"sqlite:///{tmp_path}")
    await collector.refresh(engine)
    await engine.dispose()
    assert _up(collector) == 0
    assert not [f for f in collector.collect() if f.name == "signoff_requests"][0].samples


async def test_counts_are_kept_for_the_ttl(database_url: str, tmp_path: Path) -> None:
    good, bad = make_async_engine(database_url), make_async_engine(f"sqlite:///{tmp_path}")
    collector = ReadModelCollector(ttl=3600)
    await collector.refresh(good)
    await collector.refresh(bad)  # within the ttl: not asked, the last counts stay
    assert _up(collector) == 1
    collector.ttl = 0
    await collector.refresh(bad)
    assert _up(collector) == 0
    await good.dispose()
    await bad.dispose()


def _up(collector: ReadModelCollector) -> float:
    families = {family.name: family for family in collector.collect()}
    return float(families["signoff_read_model_up"].samples[0].value)
