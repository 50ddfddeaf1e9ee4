"""GET /api/v1/worklist through HTTP on the real database (SQLite or PostgreSQL)."""

import csv
import io
from typing import Any

from httpx import AsyncClient

from app.auth.scopes import CASES_READ, CASES_WRITE, STATS_READ, TRIGGERS_READ
from app.db import get_sessionmaker
from app.triggers import lifecycle
from tests.audit.test_audit_trail import audit_of
from tests.conftest import ScopedClient
from tests.factories import add_pain, make_patient, make_procedure
from tests.triggers.helpers import T0, day, iso, sweep

URL = "/api/v1/worklist"


async def rows(client: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(URL, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def treated(
    client: AsyncClient,
    scores: list[tuple[float, float]] | None = None,
    person: dict[str, Any] | None = None,
    **procedure: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    patient = await make_patient(client, **{"histology_group": "IX", **(person or {})})
    created = await make_procedure(client, patient["id"], performed_at=iso(T0), **procedure)
    for n, score in scores or []:
        await add_pain(client, patient["id"], iso(day(n)), score)
    return patient, created


async def test_a_pain_score_is_due_from_its_window_opening_until_it_closes(
    client: AsyncClient,
) -> None:
    patient, procedure = await treated(client)
    assert await rows(client, as_of=iso(day(3.9))) == []
    (row,) = await rows(client, as_of=iso(day(4)))
    assert row["kind"] == "pain_score_due" and row["day"] == 7
    assert row["patient_id"] == patient["id"] and row["procedure_id"] == procedure["id"]
    assert row["episode_key"] == procedure["id"] and row["levels"] == ["T7"]
    assert row["due_at"] == iso(day(7)) and row["overdue"] is False
    assert (row["window_opens"], row["window_closes"]) == (iso(day(4)), iso(day(10)))
    assert row["score_in_window"] is False and row["target_pain_site"] == "back"
    assert row["trigger_id"] is None and row["etag"] is None
    assert row["sentence"].startswith("Day 7 back pain score due after T7 vertebroplasty")
    await add_pain(client, patient["id"], iso(day(6)), 4)
    (scored,) = await rows(client, as_of=iso(day(8)))
    assert scored["day"] == 7 and scored["score_in_window"] is True and scored["overdue"]
    assert scored["sentence"].endswith("4/10 recorded at day 6")
    assert await rows(client, as_of=iso(day(19))) == []  # between day 14's and day 30's
    (d30,) = await rows(client, as_of=iso(day(23)))
    assert d30["day"] == 30


async def test_a_later_procedure_on_the_same_level_closes_the_earlier_time_points(
    client: AsyncClient,
) -> None:
    patient, first = await treated(client)
    (before,) = await rows(client, as_of=iso(day(11)))
    assert before["procedure_id"] == first["id"] and before["day"] == 14
    again = await make_procedure(client, patient["id"], performed_at=iso(day(12)))
    assert await rows(client, as_of=iso(day(13))) == []  # the first is ended, the next at day 1
    (after,) = await rows(client, as_of=iso(day(17)))
    assert after["procedure_id"] == again["id"] and after["day"] == 7


async def test_open_triggers_come_first_with_their_evidence_in_a_sentence(
    client: AsyncClient,
) -> None:
    patient, _ = await treated(client, [(-3, 8), (12, 8)], levels=[{"level": "T9"}])
    other, _ = await treated(client, [(-3, 7)])
    # the no-improvement was decided at the day-12 score's write (its day 14 is long past);
    # the overdue alert, which rests on no score having come, is the sweep's
    assert (await sweep(day(14))).fired == 1
    listed = await rows(client, as_of=iso(day(15)))
    assert [r["kind"] for r in listed] == ["imaging_trigger", "imaging_trigger",
                                            "pain_score_due", "pain_score_due"]  # fmt: skip
    by_patient = {r["patient_id"]: r for r in listed if r["kind"] == "imaging_trigger"}
    mine = by_patient[patient["id"]]
    assert mine["rule"] == "no_improvement" and mine["status"] == "open"
    assert mine["sentence"] == (
        "Back pain 8/10 at day 12 against a baseline of 8/10: no improvement at 2 weeks "
        "after T9 vertebroplasty"
    )
    assert by_patient[other["id"]]["rule"] == "follow_up_overdue"
    # acting on the row: its etag is the If-Match the transition needs
    moved = await client.post(
        f"/api/v1/imaging-triggers/{mine['trigger_id']}/transitions",
        json={"to": "acknowledged"},
        headers={"If-Match": mine["etag"]},
    )
    assert moved.status_code == 200, moved.text
    (still,) = [r for r in await rows(client, as_of=iso(day(15)), kind="imaging_trigger")
                if r["patient_id"] == patient["id"]]  # fmt: skip
    assert still["status"] == "acknowledged" and still["etag"] == '"2"'


async def test_a_leg_targeted_episode_reads_leg_pain(client: AsyncClient) -> None:
    patient = await make_patient(client)
    await make_procedure(
        client, patient["id"], performed_at=iso(T0), levels=[{"level": "L3"}],
        target_pain_site="leg",
    )  # fmt: skip
    await add_pain(client, patient["id"], iso(day(-3)), 7, site="leg")
    await add_pain(client, patient["id"], iso(day(11)), 7, site="leg")
    await add_pain(client, patient["id"], iso(day(11)), 2, site="back")
    await sweep(day(14))
    (trigger,) = await rows(client, as_of=iso(day(15)), kind="imaging_trigger")
    assert trigger["sentence"].startswith("Leg pain 7/10 at day 11 against a baseline of 7/10")
    (due,) = await rows(client, as_of=iso(day(15)), kind="pain_score_due")
    assert due["target_pain_site"] == "leg" and due["score_in_window"] is True


async def test_a_death_closes_the_patients_triggers_and_removes_their_rows(
    client: AsyncClient,
) -> None:
    patient, _ = await treated(client, [(-3, 8), (12, 8)])
    assert (await sweep(day(14))).fired == 0  # opened at the day-12 score's write
    assert len(await rows(client, as_of=iso(day(15)))) == 2
    death = {"kind": "death", "patient_id": patient["id"], "occurred_at": iso(day(15))}
    assert (await client.post("/api/v1/follow-ups", json=death)).status_code == 201
    assert await rows(client, as_of=iso(day(16))) == []
    (trigger,) = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert trigger["status"] == "closed" and trigger["closed_at"] is not None
    last = trigger["history"][-1]
    assert (last["from_status"], last["to_status"], last["actor"], last["reason"]) == (
        "open", "closed", "system", "patient_died",
    )  # fmt: skip
    # closed is final: nobody moves it on
    refused = await client.post(
        f"/api/v1/imaging-triggers/{trigger['id']}/transitions",
        json={"to": "acknowledged"},
        headers={"If-Match": f'"{trigger["version"]}"'},
    )
    assert refused.status_code == 422


async def test_an_ingested_death_and_a_death_date_close_triggers_too(client: AsyncClient) -> None:
    mrn = {"system": "urn:test:mrn", "value": "MRN-W1"}
    await treated(client, [(-3, 8), (12, 8)], {"identifiers": [mrn]})
    second, _ = await treated(client, [(-3, 8), (12, 8)])
    assert (await sweep(day(14))).fired == 0  # both opened at their day-12 scores' writes
    event = {"source": "urn:test:epic", "event_id": "w-death", "type": "patient.deceased",
             "occurred_at": iso(day(20)), "patient": mrn, "data": {}}  # fmt: skip
    ingested = await client.post("/api/v1/events", json=event)
    assert ingested.status_code in (200, 201), ingested.text
    url = f"/api/v1/patients/{second['id']}"
    etag = (await client.get(url)).headers["etag"]
    patched = await client.patch(url, json={"death_date": iso(day(21))[:10]},
                                 headers={"If-Match": etag})  # fmt: skip
    assert patched.status_code == 200, patched.text
    items = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert sorted(t["status"] for t in items) == ["closed", "closed"]
    assert all(t["history"][-1]["reason"] == "patient_died" for t in items)


async def test_filters_and_cursor_pages(client: AsyncClient) -> None:
    a, _ = await treated(client, [(-3, 8), (12, 8)], operator="Dr A", levels=[{"level": "T9"}])
    b, _ = await treated(client, [(-3, 8)], operator="Dr B", levels=[{"level": "L2"}])
    c, _ = await treated(client, operator="Dr A", levels=[{"level": "L2"}])
    await sweep(day(14))
    at = iso(day(15))
    everything = await rows(client, as_of=at)
    assert len(everything) == 5  # two triggers, three pain scores (day 14)
    assert {r["patient_id"] for r in await rows(client, as_of=at, operator="dr a")} == {
        a["id"], c["id"],
    }  # fmt: skip
    assert {r["patient_id"] for r in await rows(client, as_of=at, level="l2")} == {
        b["id"], c["id"],
    }  # fmt: skip
    assert {r["kind"] for r in await rows(client, as_of=at, kind="pain_score_due")} == {
        "pain_score_due"
    }
    due = await rows(client, as_of=at, due_before=iso(day(14)), due_after=iso(day(14)))
    assert len(due) == 5  # both kinds are due at t0 + 14 d
    assert await rows(client, as_of=at, due_after=iso(day(14.5))) == []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"as_of": at, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(URL, params=params)).json()
        assert len(body["items"]) <= 2
        pages.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert [r["id"] for r in pages] == [r["id"] for r in everything]
    bad = await client.get(URL, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_labels_scopes_and_audit(client: AsyncClient, scoped_client: ScopedClient) -> None:
    mrn = {"system": "urn:test:mrn", "value": "MRN-0042"}
    patient, _ = await treated(client, None, {"identifiers": [mrn], "birth_date": "2004-05-01"})
    other, _ = await treated(client)  # no rows at day 30 for the other: a day-30 filter
    at = iso(day(8))
    async with scoped_client(CASES_READ) as reader:
        response = await reader.get(URL, params={"as_of": at, "level": "T7", "limit": 1})
        assert response.status_code == 200
        (row,) = response.json()["items"]
        assert "MRN" not in row["patient_label"]
        assert row["patient_label"].startswith("F 14y IX T7 #")
        audited = await audit_of(client, response)
        assert [r["patient_id"] for r in audited] == [row["patient_id"]]
        assert audited[0]["route"] == URL and audited[0]["action"] == "read"
    async with scoped_client(CASES_WRITE) as writer:
        labels = {r["patient_id"]: r["patient_label"] for r in await rows(writer, as_of=at)}
        assert labels[patient["id"]] == "MRN-0042"
        assert labels[other["id"]].startswith("F ")  # no identifier: the description
    for scopes in ((TRIGGERS_READ,), (STATS_READ,)):
        async with scoped_client(*scopes) as refused:
            assert (await refused.get(URL)).status_code == 403


async def test_csv_is_one_tidy_table(client: AsyncClient) -> None:
    await treated(client, [(-3, 8), (12, 8)])
    await treated(client)
    await sweep(day(14))
    at = iso(day(15))
    by_accept = await client.get(URL, params={"as_of": at}, headers={"Accept": "text/csv"})
    by_query = await client.get(URL, params={"as_of": at, "format": "csv"})
    assert by_accept.status_code == 200 and by_accept.headers["content-type"].startswith("text/csv")
    assert by_accept.text == by_query.text
    table = list(csv.DictReader(io.StringIO(by_query.text)))
    json_rows = await rows(client, as_of=at)
    assert [r["id"] for r in table] == [r["id"] for r in json_rows]
    assert table[0]["kind"] == "imaging_trigger" and table[0]["version"] == "1"
    assert table[0]["levels"] == "T7" and table[-1]["score_in_window"] in ("true", "false")
    assert table[-1]["due_at"] == iso(day(14)).replace("Z", "+00:00")
    paged = await client.get(URL, params={"as_of": at, "format": "csv", "limit": 1})
    assert len(list(csv.DictReader(io.StringIO(paged.text)))) == 1
    assert paged.headers["x-next-cursor"]


async def test_a_trigger_the_sweep_opens_after_the_death_is_closed_with_its_batch(
    client: AsyncClient,
) -> None:
    """Death on day 20, after the day-14 due day: rule A still fires for the episode
    (clinical-rules.md section 3), but the sweep closes the trigger at once
    (`close_batch_for_death`). No score in the window: the follow-up-overdue alert is the
    sweep's to open (a no-improvement would have been opened at its score's write)."""
    patient, _ = await treated(client, [(-3, 8)])
    death = {"kind": "death", "patient_id": patient["id"], "occurred_at": iso(day(20))}
    assert (await client.post("/api/v1/follow-ups", json=death)).status_code == 201
    result = await sweep(day(30))
    assert result.fired == 1
    (trigger,) = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert trigger["status"] == "closed" and trigger["history"][-1]["reason"] == "patient_died"
    assert trigger["history"][-1]["actor"] == "system"
    async with get_sessionmaker()() as session:  # nothing left to close
        assert await lifecycle.close_batch_for_death(session, result.batch_id, day(30)) == []
