"""The seed holds the paper's three cases; the case endpoint returns them whole."""

from collections import Counter
from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.seeding import load_all


@pytest.fixture
async def cases(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> dict[str, dict[str, Any]]:
    assert set((await load_all(sessionmaker)).values()) == {True}
    listed = (await client.get("/api/v1/cases")).json()["items"]
    by_key = {}
    for summary in listed:
        case = (await client.get(f"/api/v1/cases/{summary['patient_id']}")).json()
        key = next(
            i["value"] for i in case["patient"]["identifiers"] if i["system"] == "urn:vertebro:seed"
        )
        by_key[key] = case
    return by_key


def vertebroplasties(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in case["procedures"] if p["kind"] == "vertebroplasty"]


def pain(case: dict[str, Any], site: str = "back") -> list[tuple[str, float]]:
    return [
        (e["occurred_at"][:10], e["score"])
        for e in case["timeline"]
        if e["kind"] == "pain" and e["site"] == site
    ]


async def test_the_papers_totals(cases: dict[str, dict[str, Any]]) -> None:
    assert sorted(cases) == ["paper-case-1", "paper-case-2", "paper-case-3"]
    sessions = [p for case in cases.values() for p in vertebroplasties(case)]
    treatments = [
        (lv["level"], c)
        for c, case in cases.items()
        for p in vertebroplasties(case)
        for lv in p["levels"]
    ]
    assert len(sessions) == 6
    assert len(treatments) == 13
    assert len(set(treatments)) == 11  # "a total of 11 vertebral levels were treated"
    assert all(p["complications"] == [] for p in sessions)  # no adverse events from vertebroplasty


async def test_case_1_two_levels_one_session(cases: dict[str, dict[str, Any]]) -> None:
    case = cases["paper-case-1"]
    (vp,) = vertebroplasties(case)
    assert [lv["level"] for lv in vp["levels"]] == ["T7", "T12"]
    assert {lv["approach"] for lv in vp["levels"]} == {"costotransverse"}
    assert (vp["anesthesia"], vp["guidance"]) == ("general", "biplanar_fluoroscopy")
    assert pain(case) == [
        ("2018-05-21", 7),  # the relapse: significant pain in the back and lower extremities
        ("2019-01-10", 7),
        ("2019-01-22", 5),
        ("2019-02-12", 0),
        ("2019-08-15", 6),
    ]
    lansky = [e["score"] for e in case["timeline"] if e["kind"] == "performance"]
    assert lansky == [100, 70, 100]
    morphine = [e["ome_mg_day"] for e in case["timeline"] if e["drug"] == "morphine"]
    assert morphine == [60, 20, 0]  # 10 mg x6, 10 mg x2, stopped
    episode = vp["episode"]
    assert episode["baseline"] == 7
    points = {p["day"]: p for p in episode["trajectory"]}
    assert (points[7]["score"], points[7]["change"], points[7]["improved"]) == (5, -2, True)
    assert (points[30]["score"], points[30]["change"]) == (0, -7)
    assert case["patient"]["death_date"] == "2019-09-12"
    # the procedure is about seven months before the returning back pain
    assert vp["performed_at"][:7] == "2019-01"


async def test_case_2_l3_three_times_with_cryoablation_and_radiotherapy(
    cases: dict[str, dict[str, Any]],
) -> None:
    case = cases["paper-case-2"]
    kinds = [(p["kind"], [lv["level"] for lv in p["levels"]]) for p in case["procedures"]]
    assert kinds == [
        ("vertebroplasty", ["L3"]),
        ("vertebroplasty", ["L3"]),
        ("cryoablation", ["L3"]),
        ("radiotherapy", ["L3"]),
        ("vertebroplasty", ["L3"]),
    ]
    assert vertebroplasties(case)[0]["indication"] == "local_tumour_control"
    # each later procedure on L3 ends the episode before it
    episodes = case["episodes"]
    assert [e["ended_by"] for e in episodes[:-1]] == [p["id"] for p in case["procedures"][1:]]
    assert episodes[-1]["ended_at"] is None
    assert pain(case) == [("2015-09-08", 0)]  # pain-free before the first vertebroplasty
    assert len(pain(case, "leg")) == 9  # the right-leg pain episodes, radicular
    # the second and third vertebroplasty were done for that leg pain: their baseline and
    # day-14 score are of leg pain (5/10 to 2/10, 8/10 to 3/10: chosen values)
    first, second, third = (e for e in episodes if e["kind"] == "vertebroplasty")
    assert [e["target_pain_site"] for e in (first, second, third)] == ["back", "leg", "leg"]
    assert [(e["baseline"], e["trajectory"][1]["score"]) for e in (first, second, third)] == [
        (0, None),
        (5, 2),
        (8, 3),
    ]
    assert [e["baseline_missing"] for e in (second, third)] == [False, False]
    cryo = case["procedures"][2]
    assert [c["kind"] for c in cryo["complications"]] == ["pain_flare"]
    born = date.fromisoformat(case["patient"]["birth_date"])
    ages = [
        (on := date.fromisoformat(p["performed_at"][:10])).year
        - born.year
        - ((on.month, on.day) < (born.month, born.day))
        for p in vertebroplasties(case)
    ]
    assert ages[0] == 9 and ages[-1] == 13
    assert case["patient"]["death_date"] == "2019-09-09"


async def test_case_3_two_stages_one_week_apart(cases: dict[str, dict[str, Any]]) -> None:
    case = cases["paper-case-3"]
    stage1, stage2 = vertebroplasties(case)
    assert [lv["level"] for lv in stage1["levels"]] == ["T1", "T6", "T7", "T9"]
    assert [lv["level"] for lv in stage2["levels"]] == ["T11", "L2", "L3", "L4"]
    assert (stage1["stage_number"], stage2["stage_number"], stage1["planned_sessions"]) == (1, 2, 2)
    assert stage1["series_id"] == stage2["series_id"]
    assert stage1["episode"] == stage2["episode"]
    assert stage1["episode"]["t0"] == stage2["performed_at"]
    radiotherapy = case["procedures"][0]
    assert (
        radiotherapy["kind"],
        radiotherapy["radiation_dose_cgy"],
        radiotherapy["radiation_fractions"],
    ) == (
        "radiotherapy",
        2000,
        4,
    )
    assert [lv["level"] for lv in radiotherapy["levels"]][0::11] == ["T5", "L4"]
    drugs = Counter(e["drug"] for e in case["timeline"] if e["kind"] == "medication")
    assert set(drugs) == {
        "fentanyl",
        "ketamine",
        "clonazepam",
        "acetaminophen",
        "lorazepam",
        "ibuprofen",
    }


async def test_timeline_is_in_time_order_and_seeding_is_idempotent(
    cases: dict[str, dict[str, Any]],
    client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for case in cases.values():
        times = [e["occurred_at"] for e in case["timeline"]]
        assert times == sorted(times)
    assert set((await load_all(sessionmaker)).values()) == {False}
    assert len((await client.get("/api/v1/cases")).json()["items"]) == 3


async def test_case_list_filters(cases: dict[str, dict[str, Any]], client: AsyncClient) -> None:
    by_level = (await client.get("/api/v1/cases", params={"level": "L3"})).json()["items"]
    assert len(by_level) == 2
    rms = (
        await client.get("/api/v1/cases", params={"histology": "alveolar rhabdomyosarcoma"})
    ).json()
    assert len(rms["items"]) == 2
    assert {c["histology_group"] for c in rms["items"]} == {"IX"}  # soft tissue sarcomas
    in_2015 = (
        await client.get(
            "/api/v1/cases",
            params={
                "performed_from": "2015-01-01T00:00:00Z",
                "performed_to": "2015-12-31T00:00:00Z",
            },
        )
    ).json()["items"]
    assert len(in_2015) == 1 and in_2015[0]["levels"] == ["L3"] and in_2015[0]["procedures"] == 5
