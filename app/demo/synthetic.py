"""A seeded synthetic registry: realistic enough to exercise every outcome definition.

Moved from tests/factories/synthetic.py (which re-exports it for the tests and benchmarks) so
that `vertebro demo` (app/demo/load.py) can load it: application code does not import tests.

The same seed gives the same rows (ids included) on any machine, so a test can insert them
into SQLite and PostgreSQL and recompute every figure from the rows themselves. Per patient:

- 1 to 3 episodes months apart (vertebroplasty mostly, some kyphoplasty, a few cryoablations
  or radiotherapy courses); 8 % are staged series of 2-3 sessions a week apart; a later
  episode often re-treats a level (a repeat, which ends the earlier episode); 1-4 levels per
  session, mostly thoracic and lumbar; cement leakage in about a fifth of the levels;
  complications after about 5 % of sessions, graded or not;
- follow-up (about 10 events per episode): a back-pain baseline for most (some outside the
  30-day window, some with two scores), scores near days 1, 7, 14, 30, 90, 180 and 365 with
  jitter and drop-outs (some never score at day 14), a few exactly on a window's edge or two
  equidistant from its target, VAS as well as NRS; most improve, some do not, some recur;
  leg-pain scores (which the rules ignore); Lansky / Karnofsky and ODI; opioid regimens
  (OME computed as the service does; some without a dose, one drug of unknown class) reduced,
  increased or stopped; weights for mg/kg;
- about a fifth die, some within the first weeks; imaging triggers for about a tenth of the
  augmentation episodes (some superseded).

`generate()` returns everything (for tests); `chunks()` yields it patient block by patient
block (for the benchmark, to keep memory flat); `insert()` bulk-inserts through SQLAlchemy
Core (executemany), so the database triggers of the summary fire as for any other write.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clinical.enums import AUGMENTATION_KINDS, DoseUnit, Route
from app.clinical.levels import LEVEL_POSITION
from app.follow_up.opioids import FACTORS_VERSION, compute_ome
from app.models import (
    Complication,
    FollowUpEvent,
    ImagingTrigger,
    LevelTreated,
    Patient,
    Procedure,
    ProcedureSeries,
)

HORIZON = datetime(2026, 6, 30, tzinfo=UTC)  # nothing happens after this
FIRST_DAY = datetime(2016, 1, 4, 8, tzinfo=UTC)
STAMP = datetime(2026, 7, 1, tzinfo=UTC)  # created_at / updated_at of every row

CHILD_HISTOLOGY = (
    ("alveolar rhabdomyosarcoma", 14), ("Ewing sarcoma", 18), ("neuroblastoma", 16),
    ("osteosarcoma", 12), ("Wilms tumour", 8), ("Langerhans cell histiocytosis", 10),
    ("acute lymphoblastic leukaemia", 12), ("lymphoma", 6),
)  # fmt: skip
ADULT_HISTOLOGY = (
    ("multiple myeloma", 30), ("breast carcinoma", 22), ("lung carcinoma", 18),
    ("prostate carcinoma", 12), ("renal cell carcinoma", 8), ("Lymphoma", 6),
)  # fmt: skip
# the ICCC-3 group a sender gives with each (app.clinical.enums.HistologyGroup); none for the
# two left out, as a sender may send none
HISTOLOGY_GROUP = {
    "alveolar rhabdomyosarcoma": "IX", "Ewing sarcoma": "VIII", "neuroblastoma": "IV",
    "osteosarcoma": "VIII", "Wilms tumour": "VI", "acute lymphoblastic leukaemia": "I",
    "lymphoma": "II", "Lymphoma": "II", "breast carcinoma": "XI", "lung carcinoma": "XI",
    "prostate carcinoma": "XI", "renal cell carcinoma": "VI",
}  # fmt: skip
SPINE = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
CERVICAL = [f"C{i}" for i in range(3, 8)]
SACRAL = ["S1", "S2"]
LEAKAGE = (
    ("none", 70), (None, 8), ("basivertebral_vein", 6), ("segmental_vein", 4),
    ("cortical_paravertebral", 5), ("intradiscal", 4), ("epidural", 2), ("foraminal", 1),
)  # fmt: skip
COMPLICATIONS = (
    "cement_leakage", "pulmonary_cement_embolism", "radiating_pain", "transient_chest_pain",
    "hematoma", "pain_flare", "radiculopathy", "infection",
)  # fmt: skip
# day -> (probability of a score near it, its window's half-width)
SCHEDULE = {1: (0.4, 0), 7: (0.75, 3), 14: (0.7, 4), 30: (0.75, 7), 90: (0.65, 21),
            180: (0.55, 30), 365: (0.45, 60)}  # fmt: skip
# (drug, route, unit, doses, doses per day choices)
REGIMENS = (
    ("morphine", Route.oral, DoseUnit.mg, (5, 10, 15, 20, 30), (2, 3, 4, 6)),
    ("oxycodone", Route.oral, DoseUnit.mg, (5, 10, 20), (2, 3, 4)),
    ("hydromorphone", Route.oral, DoseUnit.mg, (1, 2, 4), (3, 4, 6)),
    ("fentanyl", Route.transdermal, DoseUnit.mcg_per_h, (12, 25, 50, 75), (None,)),
    ("fentanyl", Route.iv, DoseUnit.mcg_per_h, (10, 20, 40, 80), (None,)),
    ("codeine", Route.oral, DoseUnit.mg, (15, 30), (3, 4)),
    ("tramadol", Route.oral, DoseUnit.mg, (50,), (2, 3, 4)),
    ("morphine", Route.iv, DoseUnit.mg_per_h, (0.5, 1, 2), (None,)),
)

EVENT_COLUMNS = (
    "id", "patient_id", "procedure_id", "kind", "occurred_at", "note", "scale", "value",
    "score", "site", "drug", "dose", "dose_unit", "route", "doses_per_day",
    "medication_status", "is_opioid", "weight_kg", "ome_mg_day", "ome_mg_kg_day",
    "ome_factors_version", "modality", "treatment_type", "finding", "created_at",
    "updated_at", "version",
)  # fmt: skip


@dataclass
class Registry:
    patients: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    levels: list[dict[str, Any]] = field(default_factory=list)
    complications: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: "Registry") -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))

    def tables(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        """In foreign-key order."""
        return [
            (Patient, self.patients),
            (ProcedureSeries, self.series),
            (Procedure, self.procedures),
            (LevelTreated, self.levels),
            (Complication, self.complications),
            (FollowUpEvent, self.events),
            (ImagingTrigger, self.triggers),
        ]


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


class _Patient:
    """One patient's history, built in time order."""

    def __init__(self, rng: random.Random, out: Registry) -> None:
        self.rng, self.out = rng, out
        self.id = self.uid()
        self.child = rng.random() < 0.6
        age = rng.randint(1, 17) if self.child else rng.randint(18, 86)
        self.first = FIRST_DAY + timedelta(
            days=rng.randint(0, 3100), hours=rng.randint(0, 9), minutes=rng.choice((0, 15, 30))
        )
        self.birth = (self.first - timedelta(days=age * 365 + rng.randint(0, 364))).date()
        histology = _pick(rng, CHILD_HISTOLOGY if self.child else ADULT_HISTOLOGY)
        self.histology = None if rng.random() < 0.03 else histology
        self.histology_group = HISTOLOGY_GROUP.get(self.histology or "")
        self.weight = round(rng.uniform(12, 70), 1) if self.child else round(rng.uniform(45, 110))
        self.events: list[dict[str, Any]] = []
        self.treated: list[str] = []
        self.death: datetime | None = None
        self.death_after: int | None = None
        if rng.random() < 0.22:
            early = rng.random() < 0.25
            self.death_after = rng.randint(3, 25) if early else rng.randint(30, 900)

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128))

    def moment(self, at: datetime) -> datetime:
        """Whole seconds mostly; a tenth carry microseconds (exact arithmetic matters)."""
        if self.rng.random() < 0.1:
            return at + timedelta(microseconds=self.rng.randint(1, 999_999))
        return at

    # --- procedures ------------------------------------------------------------------------
    def build(self) -> None:
        rng = self.rng
        episodes = _pick(rng, ((1, 70), (2, 22), (3, 8)))
        start = self.first
        last_t0 = start
        for n in range(episodes):
            if start >= HORIZON - timedelta(days=2):
                break
            kind = _pick(
                rng,
                (("vertebroplasty", 80), ("kyphoplasty", 12), ("cryoablation", 4),
                 ("radiotherapy", 4)),
            )  # fmt: skip
            last_t0 = self.episode(start, kind, repeat=n > 0 and rng.random() < 0.45)
            start = last_t0 + timedelta(days=rng.randint(45, 540), hours=rng.randint(-3, 3))
        if self.death_after is not None:
            death = last_t0 + timedelta(days=self.death_after, hours=rng.randint(0, 23))
            if death < HORIZON:
                self.death = death
        self.follow_ups_done()

    def _levels(self, count: int, repeat: bool) -> list[str]:
        rng = self.rng
        if repeat and self.treated:
            chosen = [rng.choice(self.treated)]
            count -= 1
        else:
            chosen = []
        region = rng.random()
        pool = CERVICAL if region < 0.04 else SACRAL if region < 0.07 else SPINE
        start = rng.randrange(0, max(1, len(pool) - count + 1))
        for level in pool[start : start + count]:
            if level not in chosen:
                chosen.append(level)
        return chosen or [rng.choice(pool)]

    def episode(self, start: datetime, kind: str, repeat: bool) -> datetime:
        rng = self.rng
        staged = kind in AUGMENTATION_KINDS and rng.random() < 0.08
        sessions = rng.choice((2, 2, 3)) if staged else 1
        series_id = None
        if staged:
            series_id = self.uid()
            self.out.series.append(
                {"id": series_id, "patient_id": self.id, "planned_sessions": sessions,
                 "label": "staged", "created_at": STAMP, "updated_at": STAMP}
            )  # fmt: skip
        indication = _pick(
            rng,
            (("pain_palliation", 75), ("local_tumour_control", 14),
             ("fracture_stabilisation", 8), (None, 3)),
        )  # fmt: skip
        # about one augmentation episode in seven treats leg (radicular) pain; decided by the
        # date, not the generator, so the registry's other draws stay as they were
        target = "leg" if kind in AUGMENTATION_KINDS and start.toordinal() % 7 == 0 else "back"
        at = t0 = start
        ids: list[uuid.UUID] = []
        all_levels: list[str] = []
        for stage in range(sessions):
            count = _pick(rng, ((1, 45), (2, 30), (3, 15), (4, 10)))
            chosen = self._levels(count, repeat and stage == 0)
            pid = self.procedure(at, kind, indication, chosen, series_id, stage + 1, staged)
            self.out.procedures[-1]["target_pain_site"] = target
            ids.append(pid)
            all_levels += chosen
            t0 = at
            at = at + timedelta(days=rng.randint(5, 10), minutes=rng.choice((0, 30)))
        self.treated += [lv for lv in all_levels if lv not in self.treated]
        self.follow_up(start, t0, ids[-1], kind in AUGMENTATION_KINDS, target)
        if kind in AUGMENTATION_KINDS and rng.random() < 0.1:
            self.trigger(series_id or ids[0], ids[-1], t0)
        return t0

    def procedure(
        self,
        at: datetime,
        kind: str,
        indication: str | None,
        levels: list[str],
        series_id: uuid.UUID | None,
        stage: int,
        staged: bool,
    ) -> uuid.UUID:
        rng = self.rng
        pid = self.uid()
        augmentation = kind in AUGMENTATION_KINDS
        self.out.procedures.append(
            {
                "id": pid, "patient_id": self.id, "series_id": series_id,
                "stage_number": stage if staged else None, "kind": kind, "performed_at": at,
                "indication": indication, "anesthesia": "general" if self.child else
                rng.choice(("general", "conscious_sedation")),
                "guidance": "biplanar_fluoroscopy" if augmentation else None,
                "duration_min": 20 + 10 * len(levels), "created_at": STAMP,
                "updated_at": STAMP, "version": 1,
            }
        )  # fmt: skip
        level_ids = []
        for level in levels:
            lid = self.uid()
            level_ids.append(lid)
            leakage = _pick(rng, LEAKAGE) if augmentation else None
            self.out.levels.append(
                {
                    "id": lid, "procedure_id": pid, "level": level,
                    "position": LEVEL_POSITION[level], "is_variant": False,
                    "needle_gauge": rng.choice((11, 13, 15)) if augmentation else None,
                    "cement_volume_ml": round(rng.uniform(1.5, 6), 1) if augmentation else None,
                    "leakage": leakage, "created_at": STAMP, "updated_at": STAMP,
                }
            )  # fmt: skip
        if augmentation and rng.random() < 0.05:
            for _ in range(rng.choice((1, 1, 1, 2))):
                self.complication(pid, at, rng.choice(level_ids) if rng.random() < 0.6 else None)
        return pid

    def complication(self, pid: uuid.UUID, at: datetime, level_id: uuid.UUID | None) -> None:
        rng = self.rng
        sir = _pick(rng, (("A", 40), ("B", 30), ("C", 8), ("D", 3), ("E", 1), (None, 18)))
        self.out.complications.append(
            {
                "id": self.uid(), "procedure_id": pid, "level_id": level_id,
                "kind": rng.choice(COMPLICATIONS), "onset_at": at + timedelta(hours=2),
                "symptomatic": rng.random() < 0.35, "sir_classic": sir,
                "sir_2017": _pick(rng, (("mild", 50), ("moderate", 15), ("severe", 3),
                                        (None, 32))),
                "cirse_grade": _pick(rng, ((1, 45), (2, 20), (3, 10), (4, 2), (None, 23))),
                "cirse_version": "2017", "created_at": STAMP, "updated_at": STAMP,
                "version": 1,
            }
        )  # fmt: skip

    def trigger(self, episode_key: uuid.UUID, t0_id: uuid.UUID, t0: datetime) -> None:
        rng = self.rng
        status = _pick(
            rng, (("open", 50), ("acknowledged", 15), ("resolved", 20), ("superseded", 15))
        )
        self.out.triggers.append(
            {
                "id": self.uid(), "patient_id": self.id, "episode_key": episode_key,
                "procedure_id": t0_id,
                "rule": rng.choice(("no_improvement", "follow_up_overdue", "worsening")),
                "occurrence": self.uid(), "generation": 0, "status": status, "t0": t0,
                "due_at": t0 + timedelta(days=14), "baseline": None, "closed_at": None,
                "batch_id": None, "created_at": STAMP, "updated_at": STAMP, "version": 1,
            }
        )  # fmt: skip

    # --- follow-up -------------------------------------------------------------------------
    def event(self, kind: str, at: datetime, procedure_id: uuid.UUID | None, **values: Any) -> None:
        row = dict.fromkeys(EVENT_COLUMNS)
        row.update(
            id=self.uid(), patient_id=self.id, procedure_id=procedure_id, kind=kind,
            occurred_at=self.moment(at), created_at=STAMP, updated_at=STAMP, version=1,
            **values,
        )  # fmt: skip
        self.events.append(row)

    def pain(self, at: datetime, score: float, pid: uuid.UUID | None, site: str = "back") -> None:
        score = max(0, min(10, round(score)))
        if self.rng.random() < 0.1:  # VAS in mm: two decimals once divided by 10
            mm = max(0, min(100, score * 10 + self.rng.randint(-4, 4)))
            self.event("pain", at, pid, scale="vas", value=mm, score=round(mm / 10, 2), site=site)
        else:
            self.event("pain", at, pid, scale="nrs11", value=score, score=float(score), site=site)

    def follow_up(
        self, first: datetime, t0: datetime, pid: uuid.UUID, augmentation: bool, target: str
    ) -> None:
        """Scores of the target site; a leg-targeted episode's back pain too (one point above,
        three hours later: rule B's own baseline and worsening)."""
        rng = self.rng

        def pain(at: datetime, score: float, pid: uuid.UUID | None) -> None:
            self.pain(at, score, pid, target)
            if target == "leg":
                self.pain(at + timedelta(hours=3), score + 1, pid, "back")

        base = rng.randint(4, 10)
        r = rng.random()
        if r < 0.82:
            pain(first - timedelta(days=rng.uniform(0.05, 29)), base, None)
            if rng.random() < 0.15:  # an older one too: the latest counts
                pain(first - timedelta(days=rng.uniform(20, 29.9)), base - 2, None)
        elif r < 0.85:
            pain(first - timedelta(days=30), base, None)  # on the window's edge
        elif r < 0.9:
            pain(first - timedelta(days=rng.uniform(31, 60)), base, None)  # too old
        improver = rng.random() < 0.78 if augmentation else rng.random() < 0.5
        floor = base * rng.uniform(0.0, 0.55)
        recurs = improver and rng.random() < 0.2
        for day, (p, width) in SCHEDULE.items():
            if rng.random() > p:
                continue
            edge = rng.random()
            if width and edge < 0.05:
                offset = float(day + rng.choice((-width, width)))
            else:
                offset = day + rng.uniform(-(width + 1.5), width + 1.5)
            offset = max(offset, 0.01)
            if improver:
                progress = min(1.0, offset / 14)
                score = base - (base - floor) * progress + rng.choice((-1, 0, 0, 1))
                if recurs and day >= 90:
                    score = base + rng.choice((0, 1))
            else:
                score = base + rng.choice((-1, 0, 0, 1))
            pain(t0 + timedelta(days=offset), score, pid)
            if width and edge > 0.97:  # a second score equidistant on the other side
                twin = 2 * day - offset
                if twin > 0:
                    pain(t0 + timedelta(days=twin), score + 1, pid)
        if rng.random() < 0.15:  # pain of another site, which the episode's figures ignore
            other = "back" if target == "leg" else "leg"
            self.pain(t0 + timedelta(days=rng.uniform(2, 60)), rng.randint(2, 9), pid, other)
        self.scored(first, t0, pid, improver)
        self.medications(first, t0, pid, improver)

    def scored(self, first: datetime, t0: datetime, pid: uuid.UUID, improver: bool) -> None:
        rng = self.rng
        age = (first.date() - self.birth).days // 365
        scale = "lansky" if age < 16 else "karnofsky"
        if rng.random() < 0.6:
            base = rng.choice((40, 50, 60, 70))
            self.event("performance", first - timedelta(days=rng.uniform(1, 20)), None,
                       scale=scale, value=base, score=float(base))  # fmt: skip
            for day in (30, 90):
                if rng.random() < 0.5:
                    value = min(100, base + (rng.choice((10, 20, 30)) if improver else 0))
                    self.event("performance", t0 + timedelta(days=day + rng.uniform(-5, 5)),
                               pid, scale=scale, value=value, score=float(value))  # fmt: skip
        if not self.child and rng.random() < 0.4:
            odi = float(rng.randint(40, 90))
            self.event("function", first - timedelta(days=rng.uniform(1, 25)), None,
                       scale="odi", value=odi, score=odi)  # fmt: skip
            if rng.random() < 0.7:
                after = max(0.0, odi - (rng.randint(10, 45) if improver else rng.randint(-5, 5)))
                self.event("function", t0 + timedelta(days=30 + rng.uniform(-6, 6)), pid,
                           scale="odi", value=after, score=after)  # fmt: skip

    def medication(
        self,
        at: datetime,
        pid: uuid.UUID | None,
        drug: str,
        route: Route | None,
        unit: DoseUnit | None,
        dose: float | None,
        per_day: float | None,
        status: str = "active",
        is_opioid: bool | None = None,
    ) -> None:
        ome = compute_ome(drug, route, dose, unit, per_day)
        opioid = ome.is_opioid if ome.is_opioid is not None else is_opioid
        ome_day = ome.ome_mg_day if status == "active" else 0.0
        if ome_day is not None and opioid is False:
            ome_day = 0.0
        weight = self.weight if self.rng.random() < (0.7 if self.child else 0.3) else None
        per_kg = round(ome_day / weight, 4) if ome_day is not None and weight else None
        self.event(
            "medication", at, pid, drug=drug, dose=dose, dose_unit=unit, route=route,
            doses_per_day=per_day, medication_status=status, is_opioid=opioid,
            weight_kg=weight, ome_mg_day=ome_day, ome_mg_kg_day=per_kg,
            ome_factors_version=FACTORS_VERSION,
        )  # fmt: skip

    def medications(self, first: datetime, t0: datetime, pid: uuid.UUID, improver: bool) -> None:
        rng = self.rng
        if rng.random() > 0.8:
            return
        drug, route, unit, doses, per_day_choices = rng.choice(REGIMENS)
        dose = rng.choice(doses)
        per_day = rng.choice(per_day_choices)
        before = first - timedelta(days=rng.uniform(1, 20))
        if rng.random() < 0.07:
            self.medication(before, None, drug, route, None, None, None)  # no dose: no OME
        else:
            self.medication(before, None, drug, route, unit, dose, per_day)
        if rng.random() < 0.4:
            self.medication(before, None, rng.choice(("gabapentin", "acetaminophen")),
                            Route.oral, DoseUnit.mg, 300, 3)  # fmt: skip
        if rng.random() < 0.03:
            self.medication(before, None, "metamizole", Route.oral, DoseUnit.mg, 500, 3)
        change = t0 + timedelta(days=rng.uniform(5, 35))
        r = rng.random()
        if improver and r < 0.4:
            self.medication(change, pid, drug, route, unit, dose, per_day, status="stopped")
        elif improver and r < 0.85:
            self.medication(change, pid, drug, route, unit, dose / 2, per_day)
        elif not improver and r < 0.5:
            self.medication(change, pid, drug, route, unit, dose * 2, per_day)
        if rng.random() < 0.3:
            later = t0 + timedelta(days=rng.uniform(60, 200))
            self.medication(later, pid, drug, route, unit, dose, per_day, status="stopped")

    def follow_ups_done(self) -> None:
        limit = min(HORIZON, self.death) if self.death else HORIZON
        kept = [e for e in self.events if e["occurred_at"] < limit]
        if self.death is not None:
            death = dict.fromkeys(EVENT_COLUMNS)
            death.update(
                id=self.uid(), patient_id=self.id, kind="death", occurred_at=self.death,
                created_at=STAMP, updated_at=STAMP, version=1,
            )  # fmt: skip
            kept.append(death)
        self.out.events.extend(kept)
        self.out.patients.append(
            {
                "id": self.id, "birth_date": self.birth,
                "sex": _pick(self.rng, (("female", 48), ("male", 48), ("other", 1),
                                        ("unknown", 3))),
                "histology": self.histology, "histology_group": self.histology_group,
                "primary_site": None,
                "diagnosis_date": self.first.date() - timedelta(days=200),
                "relapsed_refractory": True,
                "death_date": self.death.astimezone(UTC).date() if self.death else None,
                "created_at": STAMP, "updated_at": STAMP, "version": 1,
            }
        )  # fmt: skip


def chunks(patients: int, seed: int = 6, size: int = 2000) -> Iterator[Registry]:
    """The registry in blocks of `size` patients; each block has its own seeded generator."""
    for block, start in enumerate(range(0, patients, size)):
        rng = random.Random(f"{seed}:{block}")
        out = Registry()
        for _ in range(min(size, patients - start)):
            patient = _Patient(rng, out)
            patient.build()
        yield out


def generate(patients: int, seed: int = 6) -> Registry:
    everything = Registry()
    for block in chunks(patients, seed):
        everything.extend(block)
    return everything


async def insert_registry(conn: AsyncConnection, registry: Registry, batch: int = 5000) -> None:
    """Bulk insert (SQLAlchemy Core executemany), in foreign-key order."""
    for model, rows in registry.tables():
        table = model.__table__
        for i in range(0, len(rows), batch):
            await conn.execute(insert(table), rows[i : i + batch])
