"""Whether a write re-evaluates a patient's imaging triggers is decided in one place (the flush
hook of app/triggers/marks.py): the same change gives the same triggers through every door
(REST, JSON events, FHIR), for every kind of change to the history the triggers read (pain
scores, deaths, procedures, levels).

The scenarios: a `follow_up_overdue` trigger at day 14 (baseline 7, no score in [day 7,
day 14]) that a death by day 14 supersedes; and a `worsening` (baseline 8, improved to 2 at
day 7, 7 at day 17) that fires when the history completes it and is superseded when a
correction takes it back.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient, Response

from app.models import TriggerEvaluationMark
from tests.factories import add_pain, make_patient, make_procedure
from tests.ingestion.helpers import count, event, pain, post, procedure
from tests.triggers.helpers import T0, day, iso, sweep, triggers

MRN = {"system": "urn:test:mrn", "value": "MRN-1"}  # the patient the event builders name
FHIR = "/fhir/r4"
FJ = {"content-type": "application/fhir+json"}
WORSENING = [(-3, 8), (7, 2), (17, 7)]


async def _patient(client: AsyncClient) -> str:
    patient: str = (await make_patient(client, identifiers=[MRN]))["id"]
    return patient


async def _rules(client: AsyncClient) -> list[tuple[str, str]]:
    """(rule, status) of every trigger; and no mark is left behind."""
    assert await count(TriggerEvaluationMark) == 0
    return sorted((t["rule"], t["status"]) for t in await triggers(client))


async def _fhir(client: AsyncClient, resource: str, body: dict[str, Any]) -> Response:
    return await client.post(f"{FHIR}/{resource}", json=body, headers=FJ)


def _created(response: Response) -> Any:
    assert response.status_code in (200, 201), response.text
    if "events" in response.request.url.path:
        assert response.json()["status"] == "created", response.text
    return response.json()


async def _overdue(client: AsyncClient) -> str:
    """A patient with an open day-14 `follow_up_overdue` trigger."""
    patient = await _patient(client)
    await make_procedure(client, patient, performed_at=iso(T0))
    await add_pain(client, patient, iso(day(-3)), 7)
    await add_pain(client, patient, iso(day(3)), 6)
    assert (await sweep(day(14))).fired == 1
    assert await _rules(client) == [("follow_up_overdue", "open")]
    return patient


# --- a death, through each door ------------------------------------------------------------


async def _death_over_rest(client: AsyncClient, patient: str) -> None:
    body = {"kind": "death", "patient_id": patient, "occurred_at": iso(day(10))}
    _created(await client.post("/api/v1/follow-ups", json=body))


async def _death_date_patched(client: AsyncClient, patient: str) -> None:
    read = await client.get(f"/api/v1/patients/{patient}")
    patched = await client.patch(
        f"/api/v1/patients/{patient}",
        json={"death_date": day(10).date().isoformat()},
        headers={"If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text


async def _death_as_an_event(client: AsyncClient, _patient: str) -> None:
    _created(await post(client, event("patient.deceased", "death-1", at=iso(day(10)))))


async def _death_over_fhir(client: AsyncClient, _patient: str) -> None:
    resource = {"resourceType": "Patient", "identifier": [MRN], "deceasedDateTime": iso(day(10))}
    _created(await _fhir(client, "Patient", resource))


@pytest.mark.parametrize(
    "record_death",
    [_death_over_rest, _death_date_patched, _death_as_an_event, _death_over_fhir],
    ids=["rest-follow-up", "rest-patch-death-date", "event", "fhir-patient"],
)
async def test_a_death_by_day_14_supersedes_the_overdue_alert_through_every_door(
    client: AsyncClient, record_death: Callable[[AsyncClient, str], Awaitable[None]]
) -> None:
    """The issue's reproduction: a death POSTed to /follow-ups (or a death date PATCHed on the
    patient) left the alert open, while the same death as an event superseded it."""
    patient = await _overdue(client)
    await record_death(client, patient)
    assert await _rules(client) == [("follow_up_overdue", "superseded")]
    case = (await client.get(f"/api/v1/cases/{patient}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == ["patient_died"]


async def test_a_retracted_death_opens_the_alert_again(client: AsyncClient) -> None:
    await _overdue(client)
    await _death_as_an_event(client, "")
    _created(await post(client, _retraction("death-1")))
    assert await _rules(client) == [
        ("follow_up_overdue", "open"),
        ("follow_up_overdue", "superseded"),
    ]


def _retraction(target: str) -> dict[str, Any]:
    data = {"event_id": target, "reason": "entered in error"}
    return event("event.retracted", f"retract-{target}", data)


# --- a pain score: added through each door, corrected, deleted -----------------------------


async def _worsening_but_the_last_score(client: AsyncClient) -> str:
    patient = await _patient(client)
    await make_procedure(client, patient, performed_at=iso(T0))
    for n, score in WORSENING[:-1]:
        await add_pain(client, patient, iso(day(n)), score)
    assert await _rules(client) == []
    return patient


async def _pain_over_rest(client: AsyncClient, patient: str) -> None:
    await add_pain(client, patient, iso(day(17)), 7)


async def _pain_as_an_event(client: AsyncClient, _patient: str) -> None:
    _created(await post(client, pain("pain-1", 7, at=iso(day(17)))))


async def _pain_over_fhir(client: AsyncClient, _patient: str) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"identifier": MRN},
        "effectiveDateTime": iso(day(17)),
        "valueQuantity": {"value": 7},
    }
    _created(await _fhir(client, "Observation", observation))


@pytest.mark.parametrize(
    "record_pain",
    [_pain_over_rest, _pain_as_an_event, _pain_over_fhir],
    ids=["rest", "event", "fhir-observation"],
)
async def test_a_pain_score_fires_the_worsening_through_every_door(
    client: AsyncClient, record_pain: Callable[[AsyncClient, str], Awaitable[None]]
) -> None:
    patient = await _worsening_but_the_last_score(client)
    await record_pain(client, patient)
    assert await _rules(client) == [("worsening", "open")]


async def test_a_batch_with_a_refused_event_evaluates_the_applied_ones(
    client: AsyncClient,
) -> None:
    """The refused event's savepoint used to forget the patients noted before it."""
    await _worsening_but_the_last_score(client)
    refused = pain("bad", 11, at=iso(day(18)))
    body = (await post(client, {"events": [pain("pain-1", 7, at=iso(day(17))), refused]})).json()
    assert (body["created"], body["rejected"]) == (1, 1), body
    assert await _rules(client) == [("worsening", "open")]


async def test_a_corrected_pain_score_supersedes_the_worsening(client: AsyncClient) -> None:
    patient = await _worsening_but_the_last_score(client)
    score = await add_pain(client, patient, iso(day(17)), 7)
    assert await _rules(client) == [("worsening", "open")]
    body = {"kind": "pain", "patient_id": patient, "occurred_at": iso(day(17)), "value": 2}
    corrected = await client.put(
        f"/api/v1/follow-ups/{score['id']}", json=body, headers={"If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    assert await _rules(client) == [("worsening", "superseded")]


async def test_a_retracted_pain_score_supersedes_the_worsening(client: AsyncClient) -> None:
    await _worsening_but_the_last_score(client)
    await _pain_as_an_event(client, "")
    assert await _rules(client) == [("worsening", "open")]
    _created(await post(client, _retraction("pain-1")))
    assert await _rules(client) == [("worsening", "superseded")]


# --- a procedure: added through each door, changed, deleted; a level added ------------------


async def _scores_without_a_procedure(client: AsyncClient) -> str:
    patient = await _patient(client)
    for n, score in WORSENING:
        await add_pain(client, patient, iso(day(n)), score)
    assert await _rules(client) == []  # no procedure: no episode
    return patient


async def _procedure_over_rest(client: AsyncClient, patient: str) -> None:
    await make_procedure(client, patient, performed_at=iso(T0))


async def _procedure_as_an_event(client: AsyncClient, _patient: str) -> None:
    _created(await post(client, procedure("procedure-1", "OR-1", ["T7"], at=iso(T0))))


async def _procedure_over_fhir(client: AsyncClient, _patient: str) -> None:
    resource = {
        "resourceType": "Procedure",
        "identifier": [{"system": "urn:test:or", "value": "OR-1"}],
        "status": "completed",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22510"}]},
        "subject": {"identifier": MRN},
        "performedDateTime": iso(T0),
        "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": "62487009"}]}],
    }
    _created(await _fhir(client, "Procedure", resource))


@pytest.mark.parametrize(
    "record_procedure",
    [_procedure_over_rest, _procedure_as_an_event, _procedure_over_fhir],
    ids=["rest", "event", "fhir-procedure"],
)
async def test_a_back_entered_procedure_fires_what_the_scores_show_through_every_door(
    client: AsyncClient, record_procedure: Callable[[AsyncClient, str], Awaitable[None]]
) -> None:
    patient = await _scores_without_a_procedure(client)
    await record_procedure(client, patient)
    assert await _rules(client) == [("worsening", "open")]


async def test_a_moved_procedure_supersedes_what_its_old_date_fired(client: AsyncClient) -> None:
    patient = await _scores_without_a_procedure(client)
    created = await make_procedure(client, patient, performed_at=iso(T0))
    assert await _rules(client) == [("worsening", "open")]
    moved = await client.patch(
        f"/api/v1/procedures/{created['id']}",
        json={"performed_at": iso(day(18))},
        headers={"If-Match": f'"{created["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    # the day-14 decision taken at the writes (improved) is revised for the new t0 (day 18,
    # no score in its window): overdue, opened at once as every revision is
    assert await _rules(client) == [("follow_up_overdue", "open"), ("worsening", "superseded")]


async def test_a_retracted_procedure_no_longer_ends_the_episode(client: AsyncClient) -> None:
    """A later session on the same level ended the episode before its day 14 (no alert);
    retracted, the episode runs to day 14 and the alert opens."""
    patient = await _patient(client)
    await make_procedure(client, patient, performed_at=iso(T0))  # T7
    await add_pain(client, patient, iso(day(-3)), 7)
    _created(await post(client, procedure("procedure-1", "OR-1", ["T7"], at=iso(day(10)))))
    await sweep(day(14))
    assert await _rules(client) == []
    _created(await post(client, _retraction("procedure-1")))
    assert await _rules(client) == [("follow_up_overdue", "open")]


async def test_a_level_added_to_a_later_procedure_ends_the_episode(client: AsyncClient) -> None:
    """A later session on another level leaves the episode alone; once it is recorded to have
    treated the same level too, it ended the episode before its day 14."""
    patient = await _overdue(client)  # T7 at T0
    later = await make_procedure(
        client, patient, performed_at=iso(day(10)), levels=[{"level": "L2"}]
    )
    assert await _rules(client) == [("follow_up_overdue", "open")]
    added = await client.post(f"/api/v1/procedures/{later['id']}/levels", json={"level": "T7"})
    assert added.status_code == 201, added.text
    assert await _rules(client) == [("follow_up_overdue", "superseded")]
