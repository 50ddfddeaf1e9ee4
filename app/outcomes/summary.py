"""The per-episode summary (outcome_episodes, and the target-site pain scores of each episode
the trajectory averages, outcome_pain_scores), derived in SQL and kept current.

Every write to procedures, levels_treated, complications, follow_up_events or patients appends
the patient to `outcome_dirty` through a database trigger, in the writer's transaction (see the
migration).
`refresh()` recomputes the summary rows of the dirty patients, set-based, with the definitions
of app.clinical (episodes, baseline, nearest score, improvement, the clinical day; their SQL
from app.clinical.predicates and .dialect) and of app.triggers.rules (rule B, the first
worsening after an improvement):

- episode: a procedure, or a staged series (same series_id); first_at = its first session,
  t0 = its last; it ends at the first later procedure (any kind) of the patient on one of its
  levels;
- baseline: the latest score of the site the episode targets (its first session's
  target_pain_site: back or leg) in [first_at - window, first_at); ties: the last id;
- time point d: the target-site pain (performance, ODI) score nearest t0 + d within +/- the window,
  strictly after t0 and before the episode ends; ties: the earlier, then the smaller id;
- analgesia at a time point: for each drug, its latest medication record before the instant
  (the first session for the baseline, t0 + d + 1 days otherwise); a `stopped` record ends
  the drug;
- death: from the start of the date of death in the registry's time zone;
- Kaplan-Meier times in whole calendar days since t0, the registry's (REGISTRY_TIME_ZONE);
- complications and cement leakage: counted per episode (its sessions, its level treatments).

Claiming (UPDATE ... SET claimed) before recomputing makes it safe against concurrent writers:
a write that commits after the claim keeps its unclaimed row and is picked up next time.
Refreshes are serialised (an advisory lock on PostgreSQL; SQLite has one writer).
"""

import time
from typing import Any

from sqlalchemy import and_, case, delete, false, func, insert, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clinical.definitions import TIME_POINTS, Definitions
from app.clinical.dialect import DAY_US, Dialect
from app.clinical.predicates import improved, pain_score_at, reduced, time_point_window_end
from app.models import FollowUpEvent, OutcomeDirty, OutcomeEpisode, OutcomeMeta, Patient
from app.models.outcome import OutcomePainScore
from app.outcomes.definitions import (
    COMPLICATION_COLUMNS,
    DAYS,
    LEAKAGE_SITES,
    MEASURES,
    POINTS,
    Patients,
    Scope,
    big,
    fingerprint,
)
from app.outcomes.episodes_sql import REGION_NAMES, complications, episode_base, levels, sessions
from app.outcomes.measures_sql import analgesia, contact, scores

__all__ = ["refresh", "state"]

LOCK_KEY = 0x6F7574636F6D65  # "outcome"
FULL_REBUILD_FRACTION = 0.2  # more dirty patients than this share: rebuild everything
FEW_PATIENTS = 500  # up to this many, the dirty patients are passed as a list (index lookups)

dirty = OutcomeDirty.__table__
meta_t = OutcomeMeta.__table__


def episodes_insert(scope: Scope) -> Any:
    d = scope.d
    sess = sessions(scope)
    lv = levels(scope, sess)
    _eps, ep = episode_base(scope, sess, lv)
    base, points, recurrence, last_pain = scores(scope, ep)
    meds = analgesia(scope, ep)
    last_seen = contact(scope, sess)
    cxs = complications(scope, sess)

    # Kaplan-Meier times: whole clinical days (the registry's calendar) since t0's
    t0_local = d.local_us(ep.c.t0, ep.c.t0_us)
    t0_day = d.day(t0_local)
    died = and_(ep.c.death_date.is_not(None), ep.c.end_us.is_(None))
    last_contact = case((last_seen.c.last_us > t0_local, last_seen.c.last_us), else_=t0_local)
    values: dict[str, Any] = {
        "episode_key": ep.c.ekey,
        "patient_id": ep.c.patient_id,
        "kind": ep.c.kind,
        "indication": ep.c.indication,
        "target_pain_site": ep.c.target_pain_site,
        "staged": ep.c.staged == 1,
        "first_at": ep.c.first_at,
        "t0": ep.c.t0,
        "ended_at": ep.c.ended_at,
        "first_us": ep.c.first_us,
        "t0_us": ep.c.t0_us,
        "n_sessions": ep.c.n_sessions,
        "n_levels": ep.c.n_levels,
        "max_levels": ep.c.max_levels,
        "n_repeats": ep.c.n_repeats,
        "has_repeat": ep.c.n_repeats > 0,
        "level_mask": ep.c.level_mask,
        **{f"leakage_{site}": ep.c[f"leakage_{site}"] for site in LEAKAGE_SITES},
        **{r: ep.c[r] == 1 for r in REGION_NAMES},
        "sex": ep.c.sex,
        "histology_group": ep.c.histology_group,
        "age": ep.c.age,
        "death_date": ep.c.death_date,
        "patient_episodes": ep.c.patient_episodes,
        "patient_levels": ep.c.patient_levels,
        **{column: cxs.c[column] for column in COMPLICATION_COLUMNS},
        "patient_complications": func.coalesce(
            func.sum(cxs.c.cx_total).over(partition_by=ep.c.patient_id), 0
        ),
    }
    for m in MEASURES:
        values[f"{m}_base"] = base.c[f"{m}_base"]
        for dd in DAYS:
            b, score = base.c[f"{m}_base"], points.c[f"{m}_d{dd}"]
            values[f"{m}_d{dd}"] = score
            values[f"{m}_change_d{dd}"] = case(
                (and_(b.is_not(None), score.is_not(None)), score - b)
            )
    for dd in DAYS:
        b, score = base.c.pain_base, points.c[f"pain_d{dd}"]
        both = and_(b.is_not(None), score.is_not(None))
        values[f"improved_d{dd}"] = case((both, improved(b, score, scope.defs)))
        for band in (30, 50):
            values[f"band{band}_d{dd}"] = case((both, reduced(b, score, band / 100)))
    for name in POINTS:
        values[f"med_{name}"] = func.coalesce(meds.c[f"med_{name}"], 0) == 1
        values[f"ome_{name}"] = meds.c[f"ome_{name}"]
        values[f"omekg_{name}"] = meds.c[f"omekg_{name}"]
        values[f"opioid_free_{name}"] = meds.c[f"free_{name}"] == 1
    for dd, width in TIME_POINTS.items():
        closes = time_point_window_end(ep.c.t0_us, dd, width, Dialect.us_plus_days)
        values[f"window_d{dd}"] = and_(
            or_(ep.c.end_us.is_(None), closes < ep.c.end_us),
            or_(ep.c.death_us.is_(None), closes < ep.c.death_us),
        )
    values["recurrence_day"] = case(
        (base.c.back_base.is_(None), None),
        (func.coalesce(last_pain.c.armed, 0) == 0, None),
        (recurrence.c.rec_us.is_not(None), recurrence.c.rec_day - t0_day),
        (last_pain.c.last_us.is_not(None), last_pain.c.last_day - t0_day),
        else_=0,
    )
    values["recurrence_event"] = and_(
        base.c.back_base.is_not(None), recurrence.c.rec_us.is_not(None)
    )
    values["survival_event"] = died
    values["survival_day"] = case(
        (died, d.date_day(ep.c.death_date) - t0_day),
        (ep.c.end_us.is_not(None), d.local_day(ep.c.ended_at, ep.c.end_us) - t0_day),
        else_=d.day(last_contact) - t0_day,
    )
    query = (
        select(*(expr.label(name) for name, expr in values.items()))
        .select_from(ep)
        .outerjoin(base, base.c.ekey == ep.c.ekey)
        .outerjoin(points, points.c.ekey == ep.c.ekey)
        .outerjoin(recurrence, recurrence.c.ekey == ep.c.ekey)
        .outerjoin(last_pain, last_pain.c.ekey == ep.c.ekey)
        .outerjoin(meds, meds.c.ekey == ep.c.ekey)
        .outerjoin(last_seen, last_seen.c.patient_id == ep.c.patient_id)
        .outerjoin(cxs, cxs.c.ekey == ep.c.ekey)
    )
    return insert(OutcomeEpisode).from_select(list(values), query)


def pain_scores_insert(scope: Scope) -> Any:
    """The scores of each episode's target pain site after t0 and inside the episode (read
    from the episodes just written), with their whole days since t0: what the pain
    trajectory averages."""
    ep, fe = OutcomeEpisode.__table__, FollowUpEvent.__table__
    day = (scope.d.epoch_us(fe.c.occurred_at) - ep.c.t0_us) // big(DAY_US)
    query = (
        select(ep.c.episode_key, ep.c.patient_id, day, scope.d.real(fe.c.score))
        .join_from(
            ep,
            fe,
            and_(
                fe.c.patient_id == ep.c.patient_id,
                pain_score_at(fe.c.kind, fe.c.site, fe.c.score, ep.c.target_pain_site),
                fe.c.occurred_at > ep.c.t0,
                or_(ep.c.ended_at.is_(None), fe.c.occurred_at < ep.c.ended_at),
            ),
        )
        .where(*scope.only(ep.c.patient_id))
    )
    columns = ["episode_key", "patient_id", "day", "score"]
    return insert(OutcomePainScore).from_select(columns, query)


async def _recompute(conn: AsyncConnection, defs: Definitions, patients: Patients) -> None:
    d = Dialect(conn.dialect.name, defs.time_zone)
    if d.postgres:
        # the chain of CTEs defeats row estimates: nested loops would be quadratic, and JIT
        # would spend seconds compiling this one-off statement
        await conn.execute(text("SET LOCAL jit = off"))
        small = isinstance(patients, list)
        await conn.execute(text(f"SET LOCAL enable_nestloop = {'on' if small else 'off'}"))
    if patients is None and d.postgres:
        # a full rebuild starts from empty files: DELETE would leave every old row version
        # behind (the table twice its size until a VACUUM FULL, and every statistics scan
        # reading both halves). TRUNCATE's exclusive lock holds statistics reads until this
        # transaction commits; they would wait for this refresh anyway, except after a forced
        # `vertebro stats refresh --full`.
        await conn.execute(text("TRUNCATE outcome_pain_scores, outcome_episodes"))
    else:
        for model in (OutcomePainScore, OutcomeEpisode):
            if patients is None:
                await conn.execute(delete(model))
            else:
                await conn.execute(delete(model).where(model.patient_id.in_(patients)))
    scope = Scope(d, defs, patients)
    await conn.execute(episodes_insert(scope))
    await conn.execute(pain_scores_insert(scope))


async def _write_meta(conn: AsyncConnection, stamp: str, generation: int | None) -> None:
    if generation is None:
        # a new lineage (first build, or the table was emptied): start from the clock, so a
        # generation number is never reused (caches key on it)
        first = time.time_ns() // 1000
        await conn.execute(insert(OutcomeMeta).values(id=1, fingerprint=stamp, generation=first))
    else:
        await conn.execute(
            update(OutcomeMeta)
            .where(meta_t.c.id == 1)
            .values(fingerprint=stamp, generation=generation + 1)
        )


async def state(conn: AsyncConnection, defs: Definitions) -> tuple[bool, int]:
    """A cheap read: (whether the summary is current: nothing dirty and computed with these
    definitions; its generation)."""
    current, generation, _latest = await state_and_latest(conn, defs)
    return current, generation


async def state_and_latest(conn: AsyncConnection, defs: Definitions) -> tuple[bool, int, int]:
    """`state`, and the newest dirty mark (0: none): what a refresh must cover for a read
    that starts now."""
    latest = await conn.scalar(select(func.max(dirty.c.id)))
    meta = (
        await conn.execute(
            select(meta_t.c.fingerprint, meta_t.c.generation).where(meta_t.c.id == 1)
        )
    ).first()
    if meta is None:
        return False, 0, int(latest or 0)
    current = latest is None and meta.fingerprint == fingerprint(defs)
    return current, int(meta.generation), int(latest or 0)


async def refresh(
    conn: AsyncConnection, defs: Definitions, *, full: bool = False, upto: int | None = None
) -> int:
    """Recompute the summary of the dirty patients (every patient when `full`, when the
    definitions changed, or when most are dirty). Run in its own transaction; returns how
    many dirty marks it consumed. `upto`: the newest mark the caller needs covered; when a
    refresh that ran while this one waited for the lock covered it, there is nothing to do
    (readers queued behind one refresh do not each refresh again)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
    if upto is not None and not full:
        needed = await conn.scalar(select(dirty.c.id).where(dirty.c.id <= upto).limit(1))
        stored = await conn.scalar(select(meta_t.c.fingerprint).where(meta_t.c.id == 1))
        if needed is None and stored == fingerprint(defs):
            return 0
    claimed = (
        await conn.execute(
            update(OutcomeDirty).where(dirty.c.claimed == false()).values(claimed=True)
        )
    ).rowcount
    meta = (
        await conn.execute(
            select(meta_t.c.fingerprint, meta_t.c.generation).where(meta_t.c.id == 1)
        )
    ).first()
    rebuild = full or meta is None or meta.fingerprint != fingerprint(defs)
    if not rebuild and not claimed:
        return 0
    patients: Patients = None
    if not rebuild:
        marked = select(dirty.c.patient_id).where(dirty.c.claimed == true()).distinct()
        touched = list(await conn.scalars(marked.limit(FEW_PATIENTS + 1)))
        if len(touched) <= FEW_PATIENTS:
            patients = touched  # index lookups, patient by patient
        else:
            everyone = await conn.scalar(select(func.count()).select_from(Patient)) or 0
            count = await conn.scalar(select(func.count()).select_from(marked.subquery())) or 0
            rebuild = count > FULL_REBUILD_FRACTION * everyone
            patients = None if rebuild else marked
    await _recompute(conn, defs, patients)
    await conn.execute(delete(OutcomeDirty).where(dirty.c.claimed == true()))
    await _write_meta(conn, fingerprint(defs), None if meta is None else meta.generation)
    return claimed
