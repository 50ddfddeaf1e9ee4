"""The set-based SQL of the sweep against the pure rules, on random histories, on the real DB
(with the registry's clock in UTC and in Toronto across its clock changes), and the paper's
three cases as a clinician reading clinical-rules.md would flag them."""

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import select

from app.clinical.days import clinical_date
from app.clinical.episodes import ProcedureFact
from app.clinical.pain import PainFact
from app.db import get_sessionmaker
from app.models import Day14Check
from app.patients.service import find_by_identifier
from app.seeding import SEED_SYSTEM, load_all
from app.triggers import rules
from app.triggers.evaluation import trigger_rules
from app.triggers.sweep import run_sweep
from tests.clinical.histories import random_history, store
from tests.triggers.helpers import sweep, triggers

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TORONTO = "America/Toronto"


async def _decisions() -> dict[uuid.UUID, dict[uuid.UUID, str]]:
    async with get_sessionmaker()() as session:
        checks = (await session.scalars(select(Day14Check))).all()
    found: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    for c in checks:
        found.setdefault(c.patient_id, {})[c.episode_key] = c.outcome
    return found


History = tuple[list[ProcedureFact], list[PainFact], None]


def _site_histories() -> list[tuple[str, History]]:
    """For each target site, histories where reading the other site's scores would decide
    otherwise: its own scores say no improvement (or improved, or no score in the window),
    the other site's say the opposite."""
    t0 = datetime(2021, 3, 1, 9, tzinfo=UTC)
    out: list[tuple[str, History]] = []
    for site, other in (("back", "leg"), ("leg", "back")):
        cases = {
            "no_improvement": [(-2, site, 8), (-1, other, 8), (9, other, 2), (10, site, 8)],
            "improved": [(-2, site, 8), (-1, other, 8), (9, other, 8), (10, site, 3)],
            "follow_up_overdue": [(-2, site, 8), (-1, other, 8), (10, other, 8), (3, site, 8)],
            "baseline_missing": [(-2, other, 8), (10, site, 8)],
        }
        for outcome, scores in cases.items():
            procedure = ProcedureFact(
                uuid.uuid4(), t0, "vertebroplasty", frozenset({"T9"}), None, site
            )
            facts = [
                PainFact(t0 + timedelta(days=day), float(v), where, uuid.uuid4())
                for day, where, v in scores
            ]
            out.append((outcome, ([procedure], facts, None)))
    return out


async def test_the_sweep_decides_as_the_pure_rules_do() -> None:
    rnd = random.Random(20191115)
    expected: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    by_site: dict[str, set[str]] = {"back": set(), "leg": set()}
    wanted = {"improved", "no_improvement", "follow_up_overdue", "baseline_missing"}
    designed = _site_histories()
    for outcome, (procedures, scores, died) in designed:
        (check,) = rules.evaluate(procedures, scores, died, NOW, trigger_rules()).day14
        assert check.outcome == outcome, (procedures[0].target_site, scores)
    histories = [*(h for _, h in designed), *(random_history(rnd) for _ in range(60))]
    for procedures, scores, died in histories:
        patient = await store(procedures, scores, died)
        evaluation = rules.evaluate(procedures, scores, died, NOW, trigger_rules())
        expected[patient] = {d.episode.key: d.outcome.value for d in evaluation.day14}
        for d in evaluation.day14:
            by_site[d.episode.target_site].add(d.outcome.value)
    await sweep(NOW)
    found = await _decisions()
    assert {p: found.get(p, {}) for p in expected} == expected
    # both target sites, each through every branch that reads its scores
    for outcomes in by_site.values():
        assert outcomes >= wanted


async def test_the_sweep_judges_a_death_by_the_clinical_day_across_clock_changes() -> None:
    """Day-14 checks falling due around Toronto's 2024 clock changes, at any hour, for patients
    who died the day before, on or after the local day of the due time: the sweep decides as
    the pure rules do with the registry in Toronto, and some of those decisions are not the
    ones UTC's calendar would give."""
    rnd = random.Random(20241103)
    toronto = replace(trigger_rules(), time_zone=TORONTO)
    expected: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    moved = 0
    for i in range(60):
        t0 = datetime(2024, 2, 24, tzinfo=UTC) if i % 2 else datetime(2024, 10, 18, tzinfo=UTC)
        procedures, scores, _ = random_history(rnd, t0 + timedelta(hours=rnd.randint(0, 23)), 23)
        due = max(p.performed_at for p in procedures) + timedelta(days=toronto.check_day)
        died = clinical_date(due, TORONTO) + timedelta(days=rnd.choice([-1, 0, 1]))
        patient = await store(procedures, scores, died)
        evaluation = rules.evaluate(procedures, scores, died, NOW, toronto)
        expected[patient] = {d.episode.key: d.outcome.value for d in evaluation.day14}
        in_utc = rules.evaluate(procedures, scores, died, NOW, trigger_rules())
        moved += [d.outcome for d in in_utc.day14] != [d.outcome for d in evaluation.day14]
    await run_sweep(get_sessionmaker(), toronto, NOW)
    found = await _decisions()
    assert {p: found.get(p, {}) for p in expected} == expected
    assert moved > 0


async def test_the_papers_cases(client: AsyncClient) -> None:
    await load_all(get_sessionmaker())
    await sweep()  # today: every episode of the paper is long past its day 14
    await sweep()
    async with get_sessionmaker()() as session:
        patients = {
            key: (await find_by_identifier(session, SEED_SYSTEM, key))
            for key in ("paper-case-1", "paper-case-2", "paper-case-3")
        }
    found = {
        key: [
            (t["rule"], t["status"], t["due_at"], t["levels"])
            for t in await triggers(client, patient_id=str(p.id))
        ]
        for key, p in patients.items()
        if p is not None
    }
    assert found == {
        # baseline 7, day 7: 5 (improved), then 0; back pain 6 seven months later
        # (both dead patients' triggers are closed: a death closes them, issue 18)
        "paper-case-1": [("worsening", "closed", "2019-08-15T10:00:00Z", ["T7", "T12"])],
        # L3 three times: baseline 0 the first time (back); then for leg pain, improved by
        # day 14 both times; leg pain never fires rule B (back pain)
        "paper-case-2": [],
        # staged series: t0 = the second session (04-30); nothing scored by day 14
        "paper-case-3": [
            (
                "follow_up_overdue",
                # opened by the sweep after the death (due before it): closed at once
                "closed",
                "2019-05-14T09:00:00Z",
                ["T1", "T6", "T7", "T9", "T11", "L2", "L3", "L4"],
            )
        ],
    }
    case1 = patients["paper-case-1"]
    assert case1 is not None
    case = (await client.get(f"/api/v1/cases/{case1.id}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == ["improved"]
    case2 = patients["paper-case-2"]
    assert case2 is not None
    case = (await client.get(f"/api/v1/cases/{case2.id}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == [
        "baseline_below_threshold",
        "improved",
        "improved",
    ]
