"""Imaging triggers through the API and the sweep, on the real database (SQLite or PostgreSQL)."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from httpx import AsyncClient

from app.auth.scopes import CASES_READ, CASES_WRITE, TRIGGERS_MANAGE
from app.models.base import utcnow
from tests.conftest import ScopedClient
from tests.factories import add_pain, make_patient, make_procedure
from tests.triggers.helpers import T0, day, iso, procedure_with_pain, sweep, triggers

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_day_14_without_improvement_opens_exactly_one_trigger(client: AsyncClient) -> None:
    patient, procedure = await procedure_with_pain(client, [(-3, 7), (3, 6)])
    # day 14 is long past (2019), but with no score in its window the decision rests on
    # absent data: the sweep's, not the writes'
    assert await triggers(client) == []
    # the day-10 score makes it decidable on the data: taken at that write
    await add_pain(client, patient, iso(day(10)), 6)
    assert [t["rule"] for t in await triggers(client)] == ["no_improvement"]
    # however often the sweep runs, and however many at once, nothing more
    again = await asyncio.gather(*(sweep(NOW) for _ in range(5)))
    assert sum(r.fired for r in again) == 0 and sum(r.decided for r in again) == 0
    (trigger,) = await triggers(client)
    assert trigger["rule"] == "no_improvement"
    assert trigger["status"] == "open"
    assert trigger["patient_id"] == patient
    assert trigger["procedure_ids"] == [procedure] and trigger["levels"] == ["T7"]
    assert trigger["due_at"] == iso(day(14)) and trigger["baseline"] == 7
    assert [(e["role"], e["score"]) for e in trigger["evidence"]] == [
        ("baseline", 7),
        ("score", 6),
        ("score", 6),
    ]
    read = await client.get(f"/api/v1/imaging-triggers/{trigger['id']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'


async def test_no_score_in_the_window_is_a_distinct_overdue_alert(client: AsyncClient) -> None:
    await procedure_with_pain(client, [(-3, 7), (3, 6)])
    assert (await sweep(day(14))).fired == 1
    (trigger,) = await triggers(client)
    assert trigger["rule"] == "follow_up_overdue" and trigger["due_at"] == iso(day(14))


async def test_not_due_before_day_14(client: AsyncClient) -> None:
    await procedure_with_pain(client, [(-3, 7)])
    assert (await sweep(day(13.9))).decided == 0
    assert await triggers(client) == []
    assert (await sweep(day(14))).fired == 1


async def test_improvement_or_missing_baseline_fire_nothing_but_are_recorded(
    client: AsyncClient,
) -> None:
    improved, _ = await procedure_with_pain(client, [(-3, 7), (7, 5)])
    no_baseline, _ = await procedure_with_pain(client, [(7, 7)])
    low_baseline, _ = await procedure_with_pain(client, [(-3, 1), (10, 1)])
    leg_only, _ = await procedure_with_pain(client, [])
    await add_pain(client, leg_only, iso(day(-3)), 8, site="leg")
    result = await sweep(NOW)
    # improved and below threshold were decided at their scores' writes; the two without a
    # baseline rest on absent data and are the sweep's
    assert (result.decided, result.fired) == (2, 0)
    outcomes = {}
    for patient in (improved, no_baseline, low_baseline, leg_only):
        case = (await client.get(f"/api/v1/cases/{patient}")).json()
        assert case["imaging_triggers"] == []
        (check,) = case["day14_checks"]
        outcomes[patient] = check["outcome"]
    assert outcomes == {
        improved: "improved",
        no_baseline: "baseline_missing",
        low_baseline: "baseline_below_threshold",
        leg_only: "baseline_missing",
    }


async def test_repeat_procedure_and_other_kinds(client: AsyncClient) -> None:
    patient, _ = await procedure_with_pain(client, [(-3, 7), (12, 7)], levels=[{"level": "L3"}])
    # a cryoablation of L3 on day 10 ends the vertebroplasty's episode before its day 14
    await make_procedure(
        client, patient, kind="cryoablation", performed_at=iso(day(10)), levels=[{"level": "L3"}]
    )
    result = await sweep(NOW)
    # the cryoablation's write decided it (the episode ended: data present)
    assert (result.decided, result.fired) == (0, 0)
    case = (await client.get(f"/api/v1/cases/{patient}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == ["ended_before_due"]


async def test_staged_series_is_due_14_days_after_its_last_session(client: AsyncClient) -> None:
    patient, _ = await procedure_with_pain(client, [])
    series = await client.post(
        "/api/v1/procedure-series", json={"patient_id": patient, "planned_sessions": 2}
    )
    assert series.status_code == 201, series.text
    s = series.json()["id"]
    t0 = day(100)
    await add_pain(client, patient, iso(day(90)), 8)
    for stage, at, level in ((1, day(93), "T9"), (2, t0, "L2")):
        await make_procedure(
            client,
            patient,
            performed_at=iso(at),
            series_id=s,
            stage_number=stage,
            levels=[{"level": level}],
        )
    await sweep(NOW)
    overdue = [t for t in await triggers(client) if t["episode_key"] == s]
    assert [(t["rule"], t["due_at"], t["levels"]) for t in overdue] == [
        ("follow_up_overdue", iso(day(114)), ["T9", "L2"])
    ]


async def test_worsening_after_improvement_fires_when_recorded(client: AsyncClient) -> None:
    patient, _ = await procedure_with_pain(client, [(-3, 7), (7, 4), (20, 2)])
    assert await triggers(client) == []
    await add_pain(client, patient, iso(day(40)), 5)  # 5 - 2 >= 2: fires now, no sweep
    (trigger,) = await triggers(client)
    assert trigger["rule"] == "worsening" and trigger["due_at"] == iso(day(40))
    assert {e["role"]: e["score"] for e in trigger["evidence"]} == {
        "baseline": 7,
        "improvement": 4,
        "lowest": 2,
        "worsening": 5,
    }
    await add_pain(client, patient, iso(day(45)), 6)  # the same worsening: nothing new
    await add_pain(client, patient, iso(day(50)), 1)  # improved again: re-armed
    await add_pain(client, patient, iso(day(60)), 7)  # >= baseline: a second worsening
    assert [t["due_at"] for t in await triggers(client, rule="worsening")] == [
        iso(day(40)),
        iso(day(60)),
    ]


async def test_late_data_supersedes_an_open_trigger(client: AsyncClient) -> None:
    patient, _ = await procedure_with_pain(client, [(-3, 7)])
    await sweep(NOW)
    (overdue,) = await triggers(client)
    assert overdue["rule"] == "follow_up_overdue"
    # a day-9 score arrives late and is not improved: the alert becomes "no improvement"
    await add_pain(client, patient, iso(day(9)), 6)
    by_rule = {t["rule"]: t for t in await triggers(client)}
    assert by_rule["follow_up_overdue"]["status"] == "superseded"
    history = by_rule["follow_up_overdue"]["history"]
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("open", "superseded", "system")
    ]
    assert by_rule["no_improvement"]["status"] == "open"
    # then an improved day-8 score: no trigger holds any more; nothing is deleted
    await add_pain(client, patient, iso(day(8)), 5)
    statuses = sorted((t["rule"], t["status"]) for t in await triggers(client))
    assert statuses == [("follow_up_overdue", "superseded"), ("no_improvement", "superseded")]
    assert (await sweep(NOW)).fired == 0


async def test_a_corrected_score_supersedes_its_worsening(client: AsyncClient) -> None:
    patient, _ = await procedure_with_pain(client, [(-3, 7), (7, 4)])
    worse = await add_pain(client, patient, iso(day(30)), 7)
    (trigger,) = await triggers(client)
    corrected = await client.put(
        f"/api/v1/follow-ups/{worse['id']}",
        json={"kind": "pain", "patient_id": patient, "occurred_at": iso(day(30)), "value": 4},
        headers={"If-Match": f'"{worse["version"]}"'},
    )
    assert corrected.status_code == 200, corrected.text
    (after,) = await triggers(client)
    assert after["id"] == trigger["id"] and after["status"] == "superseded"


async def test_lifecycle_is_validated_attributed_and_time_stamped(client: AsyncClient) -> None:
    await procedure_with_pain(client, [(-3, 7), (10, 7)])
    await sweep(NOW)
    (trigger,) = await triggers(client)
    url = f"/api/v1/imaging-triggers/{trigger['id']}"

    async def move(to: str, etag: str | None, **body: str) -> tuple[int, dict[str, Any], str]:
        headers = {"If-Match": etag} if etag else {}
        r = await client.post(f"{url}/transitions", json={"to": to, **body}, headers=headers)
        return r.status_code, r.json(), r.headers.get("etag", "")

    status, _, _ = await move("acknowledged", None)
    assert status == 428
    status, _, _ = await move("acknowledged", '"7"')
    assert status == 412
    status, body, etag = await move("resolved", '"1"')
    assert status == 422 and body["type"].endswith("invalid-transition")
    status, body, etag = await move("acknowledged", '"1"', actor="Dr Heran")
    assert status == 200 and body["status"] == "acknowledged" and etag == '"2"'
    status, body, etag = await move("dismissed", etag)
    assert status == 422 and body["type"].endswith("reason-required")
    status, body, etag = await move("imaging_ordered", '"2"')
    status, body, etag = await move("resolved", etag)
    assert status == 200 and body["status"] == "resolved" and body["closed_at"]
    steps = [(h["from_status"], h["to_status"]) for h in body["history"]]
    assert steps == [
        ("open", "acknowledged"),
        ("acknowledged", "imaging_ordered"),
        ("imaging_ordered", "resolved"),
    ]
    assert body["history"][0]["actor"].startswith("Dr Heran (via ")
    assert all(h["at"] for h in body["history"])
    status, body, _ = await move("acknowledged", etag)
    assert status == 422  # closed


# what a trigger carries of its patient's case: the procedures, dates and scores behind it
CASE_DATA = {"procedure_ids", "levels", "t0", "baseline", "evidence"}


async def test_triggers_manage_reads_and_moves_triggers_but_not_the_case_behind_them(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    await procedure_with_pain(client, [(-3, 7), (10, 7)])
    await sweep(NOW)
    (full,) = await triggers(client)
    assert set(full) >= CASE_DATA
    url = f"/api/v1/imaging-triggers/{full['id']}"
    fixed = ("id", "patient_id", "rule", "episode_key", "procedure_id", "due_at", "created_at")
    async with scoped_client(TRIGGERS_MANAGE) as manager:
        listed = await manager.get("/api/v1/imaging-triggers")
        read = await manager.get(url)
        assert (listed.status_code, read.status_code) == (200, 200), listed.text
        moved = await manager.post(
            f"{url}/transitions", json={"to": "acknowledged"}, headers={"If-Match": '"1"'}
        )
        assert moved.status_code == 200, moved.text
        for body in (listed.json()["items"][0], read.json(), moved.json()):
            assert not CASE_DATA & set(body), body
            assert {k: body[k] for k in fixed} == {k: full[k] for k in fixed}
        assert moved.json()["status"] == "acknowledged"
        assert moved.json()["history"][0]["to_status"] == "acknowledged"
        case = await manager.get(f"/api/v1/cases/{full['patient_id']}")
        assert case.status_code == 403
    async with scoped_client(TRIGGERS_MANAGE, CASES_READ) as clinician:
        moved = await clinician.post(
            f"{url}/transitions", json={"to": "imaging_ordered"}, headers={"If-Match": '"2"'}
        )
        assert moved.status_code == 200, moved.text
        assert {k: moved.json()[k] for k in CASE_DATA} == {k: full[k] for k in CASE_DATA}
    async with scoped_client(CASES_WRITE) as writer:  # implies cases:read, so triggers:read
        read = await writer.get(url)
        assert read.status_code == 200 and {k: read.json()[k] for k in CASE_DATA} == {
            k: full[k] for k in CASE_DATA
        }


async def test_list_filters_as_of_and_pagination(client: AsyncClient) -> None:
    a, proc_a = await procedure_with_pain(client, [(-3, 7), (10, 7)])
    b, _ = await procedure_with_pain(client, [(-3, 7)], t0=day(30))
    await sweep(NOW)
    assert len(await triggers(client)) == 2
    assert [t["patient_id"] for t in await triggers(client, patient_id=a)] == [a]
    assert [t["patient_id"] for t in await triggers(client, procedure_id=proc_a)] == [a]
    assert [t["rule"] for t in await triggers(client, rule="follow_up_overdue")] == [
        "follow_up_overdue"
    ]
    assert len(await triggers(client, due_from=iso(day(20)))) == 1
    assert len(await triggers(client, due_to=iso(day(20)))) == 1
    assert len(await triggers(client, status="resolved")) == 0
    # as_of: what was due then (and not closed then)
    assert len(await triggers(client, as_of=iso(day(13)))) == 0
    assert len(await triggers(client, as_of=iso(day(20)))) == 1
    assert len(await triggers(client, as_of=iso(utcnow()))) == 2
    page = (await client.get("/api/v1/imaging-triggers", params={"limit": 1})).json()
    rest = await client.get(
        "/api/v1/imaging-triggers", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    ids = {page["items"][0]["id"], rest.json()["items"][0]["id"]}
    assert len(ids) == 2 and rest.json().get("next_cursor") is None
    case = (await client.get(f"/api/v1/cases/{b}")).json()
    assert [t["rule"] for t in case["imaging_triggers"]] == ["follow_up_overdue"]
    assert T0  # the module's anchor


async def test_procedure_writes_over_rest_re_evaluate_the_triggers(client: AsyncClient) -> None:
    """Scores recorded before their procedure (back-entered charts): the procedure's creation
    fires the worsening they show; moving the procedure after them supersedes it."""
    patient = (await make_patient(client))["id"]
    for n, score in [(-3, 7), (7, 4), (20, 2), (40, 5)]:
        await add_pain(client, patient, iso(day(n)), score)
    assert await triggers(client) == []  # no procedure yet: no episode
    created = await make_procedure(client, patient, performed_at=iso(T0))
    (trigger,) = await triggers(client)
    assert trigger["rule"] == "worsening" and trigger["status"] == "open"
    moved = await client.patch(
        f"/api/v1/procedures/{created['id']}",
        json={"performed_at": iso(day(41))},
        headers={"If-Match": f'"{created["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    after = {t["rule"]: t for t in await triggers(client)}
    assert after["worsening"]["id"] == trigger["id"]
    assert after["worsening"]["status"] == "superseded"
    # the day-14 decision already taken (improved, at the day-7 score's write) is revised for
    # the new t0 (day 41, no score in its window): overdue, as any revision opens at once
    assert after["follow_up_overdue"]["status"] == "open" and len(after) == 2
