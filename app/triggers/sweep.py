"""The time-based evaluation: rule A (the day-14 check) for every episode whose due time has come.

Set-based: four INSERT ... SELECT statements in one transaction, whatever the number of
procedures, with no Python loop over them.

1. `imaging_day14_checks`: one decision per augmentation episode (single session, or staged
   series counted from its last session) that is due (t0 + 14 d <= now) and not yet decided for
   its current t0 session. The baseline, "improved", "a score in [t0 + 7 d, t0 + 14 d]", the end
   of the episode by a later procedure on one of its levels and the patient's death (by the
   clinical day of the due time) are correlated subqueries on indexed columns; the definitions
   are those of `app.triggers.rules`.
2. `imaging_triggers` for the decisions that fire (no_improvement, follow_up_overdue); a decision
   is new only when its episode and t0 had none, so no earlier trigger shares its key
   (generation 0; later revisions are `evaluate_patients`').
3. `imaging_trigger_evidence`: the baseline and the scores of (t0, t0 + 14 d], of the site
   the episode's procedure targets (its first session's target_pain_site: back or leg).
4. `outbox_messages`: imaging_trigger.opened for each subscription that wants it.
5. A trigger opened for a patient who has died since its due time is closed (`closed`,
   patient_died), as a death closes every open trigger (app.triggers.lifecycle).

Idempotent and safe to run from several processes at once: each decision and each trigger has a
unique natural key and is inserted with ON CONFLICT DO NOTHING, and steps 2-4 only follow the
rows that this run inserted (its batch id). A decision already taken is never re-taken by the
sweep; later data revises it through `app.triggers.evaluation.evaluate_patients`.

The statement stays raw SQL for its shape (the EXCEPT anti-joins, the MATERIALIZED CTEs and
INSERT leading the CTEs, each for a reason given where it is): the clinical definitions in it
(the target site's pain scores, augmentation, episode key, the baseline's window and order,
improved, the end of an episode, the clinical date, the days added to a timestamp) are
the Core expressions of `app.clinical.predicates` and `app.clinical.dialect`, rendered into the
text per dialect with the definitions' values inlined, so each is written once for the sweep
and the statistics.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Double, String, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnClause

from app.clinical.definitions import Definitions
from app.clinical.dialect import Dialect
from app.clinical.enums import TriggerRule, TriggerStatus
from app.clinical.predicates import (
    baseline_order,
    ends_episode,
    episode_key,
    improved,
    in_baseline_window,
    is_augmentation,
    pain_score_at,
)
from app.common.sql import dialect_of, typed
from app.models.base import new_id, utcnow
from app.notifications.outbox import enqueue_batch
from app.observability import metrics
from app.triggers.lifecycle import close_batch_for_death
from app.triggers.rules import Day14Outcome, EvidenceRole

ANALYZE_AFTER = 5_000


def col(name: str, type_: Any = String) -> ColumnClause[Any]:
    """A column of the raw statement, typed for the shared predicates."""
    return literal_column(name, type_)


def _target_pain(d: Dialect, alias: str, target: str) -> str:
    """A pain score of `alias` at the site the column `target` names (the episode's target)."""
    kind, site, score = col(f"{alias}.kind"), col(f"{alias}.site"), col(f"{alias}.score", Double)
    return d.render(pain_score_at(kind, site, score, col(target)))


# the episode's target pain site: its first session's (app.clinical.episodes.build_episodes)
_EPISODE_TARGET = """COALESCE(
        (SELECT f.target_pain_site FROM procedures f WHERE f.series_id = {key}
         ORDER BY f.performed_at, f.id LIMIT 1),
        (SELECT f.target_pain_site FROM procedures f WHERE f.id = {key}))"""


@dataclass(frozen=True)
class SweepResult:
    batch_id: uuid.UUID
    decided: int  # episodes whose day-14 decision this run took
    fired: int  # triggers it opened
    messages: int  # outbox messages it queued
    seconds: float


def _decisions_sql(d: Dialect, r: Definitions) -> str:
    # The episodes not decided yet are found with EXCEPT (one pass over each side), not NOT
    # EXISTS: while the decision table is empty, as before the first sweep of a backfill,
    # PostgreSQL plans NOT EXISTS as a nested loop that rescans that empty table once per
    # procedure (41 of 53 s at 100k procedures on the development machine).
    augmentation_q = d.render(is_augmentation(col("q.kind")))
    augmentation_first = d.render(is_augmentation(col("st.first_kind")))
    pain_u, pain_b = _target_pain(d, "e", "u.target"), _target_pain(d, "e", "b.target")
    own_session = episode_key(col("pe.series_id"), col("pe.id")) == col("b.ekey")
    episode_levels = f"""lq.level IN (
                          SELECT le.level FROM procedures pe
                          JOIN levels_treated le ON le.procedure_id = pe.id
                          WHERE pe.patient_id = b.patient_id AND {d.render(own_session)})"""
    ends = ends_episode(
        episode_key(col("q.series_id"), col("q.id")),
        col("q.performed_at", DateTime),
        col("b.ekey"),
        col("b.t0", DateTime),
        literal_column(episode_levels),
    )
    died_by = d.render(d.local_date(col("b.due_at", DateTime)))
    e_at = col("e.occurred_at", DateTime)
    in_baseline = d.render(in_baseline_window(e_at, col("u.first_at", DateTime), r, d.plus_days))
    latest_first = d.render_order(*baseline_order(e_at, col("e.id")))
    is_improved = improved(d.real(col("be.score", Double)), d.real(col("e.score", Double)), r)
    # INSERT first, the CTEs inside its SELECT: Python's sqlite3 opens its implicit transaction
    # only before a statement that starts with INSERT/UPDATE/DELETE/REPLACE, so a leading WITH
    # ran in autocommit on SQLite and a sweep that died afterwards left decisions without
    # their triggers (which no later sweep would make).
    return f"""
    INSERT INTO imaging_day14_checks (episode_key, t0_procedure_id, patient_id, t0, due_at,
                                      outcome, baseline, baseline_event_id, checked_at, batch_id)
    WITH undecided AS MATERIALIZED (
        SELECT q.id FROM procedures q
        WHERE q.series_id IS NULL AND {augmentation_q} AND q.performed_at <= :cutoff
        EXCEPT
        SELECT c.episode_key FROM imaging_day14_checks c WHERE c.t0_procedure_id = c.episode_key
    ),
    singles AS MATERIALIZED (
        SELECT p.id AS ekey, p.id AS t0_id, p.patient_id, p.performed_at AS first_at,
               p.performed_at AS t0, p.target_pain_site AS target
        FROM undecided u JOIN procedures p ON p.id = u.id
    ),
    staged AS (
        SELECT p.series_id AS ekey, p.id, p.patient_id, p.performed_at,
               FIRST_VALUE(p.kind) OVER (PARTITION BY p.series_id
                                         ORDER BY p.performed_at, p.id) AS first_kind,
               MIN(p.performed_at) OVER (PARTITION BY p.series_id) AS first_at,
               ROW_NUMBER() OVER (PARTITION BY p.series_id
                                  ORDER BY p.performed_at DESC, p.id DESC) AS last_rank
        FROM procedures p
        WHERE p.series_id IS NOT NULL
    ),
    series_due AS MATERIALIZED (
        SELECT st.ekey, st.id AS t0_id, st.patient_id, st.first_at, st.performed_at AS t0
        FROM staged st
        WHERE st.last_rank = 1 AND {augmentation_first}
          AND st.performed_at <= :cutoff
    ),
    series_undecided AS MATERIALIZED (
        SELECT ekey, t0_id FROM series_due
        EXCEPT
        SELECT c.episode_key, c.t0_procedure_id FROM imaging_day14_checks c
    ),
    series AS MATERIALIZED (
        SELECT u.ekey, u.t0_id, p.patient_id,
               (SELECT MIN(f.performed_at) FROM procedures f WHERE f.series_id = u.ekey)
                   AS first_at,
               p.performed_at AS t0,
               (SELECT f.target_pain_site FROM procedures f WHERE f.series_id = u.ekey
                ORDER BY f.performed_at, f.id LIMIT 1) AS target
        FROM series_undecided u JOIN procedures p ON p.id = u.t0_id
    ),
    due AS (
        SELECT x.*,
               {d.add_days("x.t0", r.check_day)} AS due_at,
               {d.add_days("x.t0", r.window_start_day)} AS window_at
        FROM (SELECT * FROM singles UNION ALL SELECT * FROM series) AS x
    ),
    based AS MATERIALIZED (
        SELECT u.*,
               (SELECT e.id FROM follow_up_events e
                WHERE e.patient_id = u.patient_id AND {pain_u} AND {in_baseline}
                ORDER BY {latest_first} LIMIT 1) AS base_id
        FROM due u
    ),
    judged AS (
        SELECT b.*, be.score AS base,
            EXISTS (SELECT 1 FROM patients pt
                    WHERE pt.id = b.patient_id AND pt.death_date IS NOT NULL
                      AND pt.death_date <= {died_by}) AS died,
            EXISTS (SELECT 1 FROM procedures q JOIN levels_treated lq ON lq.procedure_id = q.id
                    WHERE q.patient_id = b.patient_id AND q.performed_at <= b.due_at
                      AND {d.render(ends)}) AS ended,
            EXISTS (SELECT 1 FROM follow_up_events e
                    WHERE e.patient_id = b.patient_id AND {pain_b}
                      AND e.occurred_at > b.t0 AND e.occurred_at <= b.due_at
                      AND {d.render(is_improved)}) AS improved,
            EXISTS (SELECT 1 FROM follow_up_events e
                    WHERE e.patient_id = b.patient_id AND {pain_b}
                      AND e.occurred_at >= b.window_at AND e.occurred_at <= b.due_at) AS seen
        FROM based b LEFT JOIN follow_up_events be ON be.id = b.base_id
    )
    SELECT j.ekey, j.t0_id, j.patient_id, j.t0, j.due_at,
           CASE WHEN j.died THEN '{Day14Outcome.patient_died}'
                WHEN j.ended THEN '{Day14Outcome.ended_before_due}'
                WHEN j.base IS NULL THEN '{Day14Outcome.baseline_missing}'
                WHEN j.base < :min_baseline THEN '{Day14Outcome.baseline_below_threshold}'
                WHEN j.improved THEN '{Day14Outcome.improved}'
                WHEN j.seen THEN '{Day14Outcome.no_improvement}'
                ELSE '{Day14Outcome.follow_up_overdue}' END,
           j.base, j.base_id, :now, :batch
    FROM judged j
    WHERE 1 = 1
    ON CONFLICT DO NOTHING
    """


def _triggers_sql(d: Dialect) -> str:
    return f"""
    INSERT INTO imaging_triggers (id, patient_id, episode_key, procedure_id, rule, occurrence,
                                  generation, status, t0, due_at, baseline, batch_id,
                                  created_at, updated_at, version)
    SELECT {d.uuid7()}, c.patient_id, c.episode_key, c.t0_procedure_id, c.outcome,
           c.t0_procedure_id, 0, '{TriggerStatus.open}', c.t0, c.due_at, c.baseline, :batch,
           :now, :now, 1
    FROM imaging_day14_checks c
    WHERE c.batch_id = :batch
      AND c.outcome IN ('{Day14Outcome.no_improvement}', '{Day14Outcome.follow_up_overdue}')
    ON CONFLICT DO NOTHING
    """


def _evidence_sql(d: Dialect) -> str:
    return f"""
    INSERT INTO imaging_trigger_evidence (trigger_id, event_id, role, score, occurred_at)
    SELECT t.id, e.id, '{EvidenceRole.baseline}', e.score, e.occurred_at
    FROM imaging_triggers t
    JOIN imaging_day14_checks c
      ON c.episode_key = t.episode_key AND c.t0_procedure_id = t.occurrence
    JOIN follow_up_events e ON e.id = c.baseline_event_id
    WHERE t.batch_id = :batch AND t.rule <> '{TriggerRule.worsening}'
    UNION ALL
    SELECT t.id, e.id, '{EvidenceRole.score}', e.score, e.occurred_at
    FROM (SELECT t.id, t.patient_id, t.t0, t.due_at,
                 {_EPISODE_TARGET.format(key="t.episode_key")} AS target
          FROM imaging_triggers t
          WHERE t.batch_id = :batch AND t.rule <> '{TriggerRule.worsening}') AS t
    JOIN follow_up_events e
      ON e.patient_id = t.patient_id AND e.occurred_at > t.t0 AND e.occurred_at <= t.due_at
    WHERE {_target_pain(d, "e", "t.target")}
    """


async def sweep(
    session: AsyncSession, rules: Definitions, now: datetime | None = None
) -> SweepResult:
    """Run the day-14 evaluation in the caller's transaction (the caller commits)."""
    started = time.perf_counter()
    now = now or utcnow()
    d = dialect_of(session, rules.time_zone)
    batch = new_id()
    if d.postgres:
        # JIT compilation costs more than it saves on these short correlated lookups
        await session.execute(text("SET LOCAL jit = off"))
    await session.execute(
        typed(_decisions_sql(d, rules), uuids=("batch",), times=("now", "cutoff")),
        {
            "now": now,
            "cutoff": now - timedelta(days=rules.check_day),
            "batch": batch,
            "min_baseline": rules.min_baseline,
        },
    )
    fired = await session.execute(
        typed(_triggers_sql(d), uuids=("batch",), times=("now",)), {"batch": batch, "now": now}
    )
    await session.execute(typed(_evidence_sql(d), uuids=("batch",)), {"batch": batch})
    messages = await enqueue_batch(session, batch, now)
    # a trigger opened for a patient who has died since is closed at once (DOMAIN: the worklist)
    await close_batch_for_death(session, batch, now)
    # counted from the batch (sqlite3 reports no rowcount for WITH ... INSERT)
    decided = await session.scalar(
        typed(
            "SELECT COUNT(*) FROM imaging_day14_checks WHERE batch_id = :batch", uuids=("batch",)
        ),
        {"batch": batch},
    )
    if d.postgres and (decided or 0) >= ANALYZE_AFTER:
        # the anti-join that skips decided episodes needs fresh statistics after a big run
        await session.execute(text("ANALYZE imaging_day14_checks"))
    await metrics.sweep_finished(session, batch, time.perf_counter() - started)
    return SweepResult(
        batch,
        int(decided or 0),
        int(getattr(fired, "rowcount", 0) or 0),
        messages,
        time.perf_counter() - started,
    )


async def run_sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    rules: Definitions,
    now: datetime | None = None,
) -> SweepResult:
    """One sweep in its own transaction: what the scheduler and `vertebro triggers sweep` run."""
    async with sessionmaker() as session, session.begin():
        return await sweep(session, rules, now)
