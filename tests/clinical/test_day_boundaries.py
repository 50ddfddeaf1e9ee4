"""Every date taken from an instant is the registry time zone's calendar date (app.clinical.days
clinical_date), never the sender's offset nor UTC: the death follow-up, the retraction that
recomputes a death, the checks against birth and death, the procedure's own dates."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient

from app.config import get_settings
from tests.factories import make_patient
from tests.ingestion.helpers import event, pain, post

TORONTO = "America/Toronto"


def retract_event(event_id: str, target: str) -> dict[str, Any]:
    return event("event.retracted", event_id, {"event_id": target, "reason": "entered in error"})


@pytest.fixture
def toronto() -> Iterator[None]:
    """The registry in Toronto for one test; the settings restored after it."""
    before = os.environ.get("REGISTRY_TIME_ZONE")
    os.environ["REGISTRY_TIME_ZONE"] = TORONTO
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("REGISTRY_TIME_ZONE", None)
        else:
            os.environ["REGISTRY_TIME_ZONE"] = before
        get_settings.cache_clear()


async def _death_date(client: AsyncClient, body: dict[str, Any]) -> Any:
    patient_id = body["ids"]["patient_id"]
    return (await client.get(f"/api/v1/patients/{patient_id}")).json()["death_date"]


@pytest.mark.usefixtures("toronto")
async def test_a_death_late_in_the_evening_is_on_the_local_day(client: AsyncClient) -> None:
    # 03:00 UTC on 4 November is 23:00 on 3 November in Toronto (EST)
    died = await post(client, event("patient.deceased", "d1", at="2019-11-04T03:00:00Z"))
    assert died.status_code == 201, died.text
    assert await _death_date(client, died.json()) == "2019-11-03"
    # a second report of the same death, the same local day (another UTC day)
    again = await post(client, event("patient.deceased", "d2", at="2019-11-03T20:00:00Z"))
    assert again.status_code == 201, again.text
    # retracting the first recomputes the date from the second: still the local day
    assert (await post(client, retract_event("x1", "d1"))).status_code == 201
    assert await _death_date(client, died.json()) == "2019-11-03"


@pytest.mark.usefixtures("toronto")
async def test_a_record_in_the_evening_of_the_death_day_is_not_after_death(
    client: AsyncClient,
) -> None:
    died = await post(client, event("patient.deceased", "d1", at="2019-11-03T17:00:00Z"))
    assert await _death_date(client, died.json()) == "2019-11-03"
    # 21:00 in Toronto on the death day, 02:00 UTC the next day
    scored = await post(client, pain("e1", 6, at="2019-11-04T02:00:00Z"))
    assert scored.status_code == 201, scored.text
    # the next local day is after death
    late = await post(client, pain("e2", 6, at="2019-11-04T05:30:00Z"))
    assert late.status_code == 422
    assert late.json()["type"].endswith("after-death")


async def test_the_senders_offset_does_not_choose_the_day(client: AsyncClient) -> None:
    """UTC registry: 22:00 at UTC-5 on 3 November is 4 November (the input schemas hold every
    instant in UTC, so the day is the registry's, whatever offset the sender wrote)."""
    patient = await make_patient(client, birth_date="2004-02-20")
    death = {
        "patient_id": patient["id"],
        "kind": "death",
        "occurred_at": "2019-11-03T22:00:00-05:00",
    }
    created = await client.post("/api/v1/follow-ups", json=death)
    assert created.status_code == 201, created.text
    body = (await client.get(f"/api/v1/patients/{patient['id']}")).json()
    assert body["death_date"] == "2019-11-04"


@pytest.mark.usefixtures("toronto")
async def test_procedure_dates_are_compared_on_the_local_day(client: AsyncClient) -> None:
    patient = await make_patient(client, birth_date="2004-02-20")
    # 02:00 UTC on 13 February is 21:00 on 12 February in Toronto
    body = {
        "patient_id": patient["id"],
        "kind": "vertebroplasty",
        "performed_at": "2019-02-13T02:00:00Z",
        "tumour_board_date": "2019-02-13",
        "levels": [{"level": "T7"}],
    }
    refused = await client.post("/api/v1/procedures", json=body)
    assert refused.status_code == 422, refused.text
    assert "tumour_board_date" in refused.text
    same_day = await client.post(
        "/api/v1/procedures", json={**body, "tumour_board_date": "2019-02-12"}
    )
    assert same_day.status_code == 201, same_day.text
