"""Per-episode values in SQL: baselines, time-point scores, rule B, analgesia, last contact.

- baseline: the latest score in [first_at - window, first_at); ties: the last id
  (predicates.in_baseline_window, baseline_order: a row_number() over the window's scores);
- time point d: the score nearest t0 + d within +/- its half-width, strictly after t0 and before
  the episode ends; ties: the earlier, then the smaller id (app.clinical.pain.nearest;
  predicates.in_time_point_window, nearest_order);
- rule B (app.triggers.rules.worsenings): after the first improved back-pain score, the first
  score s with s - (lowest since that improvement) >= worsening points, or s >= baseline;
- analgesia: for each drug, its latest medication record before the instant (the first
  session for the baseline, t0 + d + 1 days otherwise: the end of day d after t0, elapsed
  time); `stopped` ends the drug; OME per kg only once the patient has a recorded weight
  (a medication record with weight_kg before the instant), else unknown;
- the clinical day (app.clinical.days) of the first worsening, of the last back-pain score and
  of the last contact, for the Kaplan-Meier times (`local_us`: the registry's local clock).
"""

from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, true, union_all

from app.clinical.definitions import Definitions
from app.clinical.dialect import DAY_US, FAR_FUTURE_US, Dialect
from app.clinical.enums import PainSite
from app.clinical.predicates import (
    baseline_order,
    baseline_window_start,
    improved,
    in_baseline_window,
    in_time_point_window,
    nearest_order,
    worsened,
)
from app.models import FollowUpEvent
from app.outcomes.definitions import DAYS, MEASURES, POINTS, Scope, big, day_rows

fe = FollowUpEvent.__table__
BACK, LEG = PainSite.back.value, PainSite.leg.value
# the back-pain scores of an episode that targets leg pain: rule B's only (its `pain` is leg)
RULE_B_PAIN = "pain_back"


def scores(scope: Scope, ep: Any) -> tuple[Any, Any, Any, Any]:
    """Baselines, time-point scores (pain, performance, ODI), recurrence, last pain."""
    pairs = _score_pairs(scope, ep)
    base = _baselines(pairs, scope.defs)
    points = _time_points(pairs)
    recurrence, last_pain = _rule_b(scope, pairs, base)
    return base, points, recurrence, last_pain


def _score_pairs(scope: Scope, ep: Any) -> Any:
    """Each episode with each score of its patient from the baseline window on, until the
    episode ends. Among the pain scores, those of the episode's target site are its `pain`
    (baseline, time points); rule B reads back pain (`rule_b`): the same scores when the
    episode targets back pain, else its back-pain scores, kept as RULE_B_PAIN."""
    d, defs = scope.d, scope.defs
    # under UTC the local clock is the epoch itself: no column of its own
    local_clock = [] if d.utc else [d.local_us(fe.c.occurred_at).label("local_us")]
    sc = (
        select(
            fe.c.id,
            fe.c.patient_id,
            fe.c.kind,
            func.coalesce(fe.c.site, BACK).label("site"),
            d.real(fe.c.score).label("score"),
            d.epoch_us(fe.c.occurred_at).label("at_us"),
            *local_clock,
        )
        .where(
            fe.c.kind.in_(tuple(MEASURES.values())),
            fe.c.score.is_not(None),
            or_(fe.c.kind != "pain", func.coalesce(fe.c.site, BACK).in_((BACK, LEG))),
            *scope.only(fe.c.patient_id),
        )
        .cte("sc")
    )
    target = ep.c.target_pain_site
    is_pain = sc.c.kind == "pain"
    kind = case((and_(is_pain, sc.c.site != target), literal(RULE_B_PAIN)), else_=sc.c.kind)
    rule_b = and_(is_pain, sc.c.site == BACK)
    # from the baseline window's start (app.clinical.predicates) on
    window_start = baseline_window_start(ep.c.first_us, defs, Dialect.us_plus_days)
    pairs = (
        select(
            ep.c.ekey,
            ep.c.first_us,
            ep.c.t0_us,
            sc.c.id,
            kind.label("kind"),
            rule_b.label("rule_b"),
            sc.c.score,
            sc.c.at_us,
            *([] if d.utc else [sc.c.local_us]),
        )
        .join_from(
            ep,
            sc,
            and_(
                sc.c.patient_id == ep.c.patient_id,
                or_(~is_pain, sc.c.site == target, sc.c.site == BACK),
                sc.c.at_us >= window_start,
                sc.c.at_us < func.coalesce(ep.c.end_us, big(FAR_FUTURE_US)),
            ),
        )
        .cte("pairs")
    )
    return pairs


def _baselines(pairs: Any, defs: Definitions) -> Any:
    """Per episode and measure: the latest score before the first session (in the window)."""
    ranked = (
        select(
            pairs.c.ekey,
            pairs.c.kind,
            pairs.c.rule_b,
            pairs.c.score,
            func.row_number()
            .over(
                partition_by=(pairs.c.ekey, pairs.c.kind),
                order_by=baseline_order(pairs.c.at_us, pairs.c.id),
            )
            .label("r"),
        )
        .where(in_baseline_window(pairs.c.at_us, pairs.c.first_us, defs, Dialect.us_plus_days))
        .subquery("ranked")
    )
    base = (
        select(
            ranked.c.ekey,
            *(
                func.max(case((ranked.c.kind == kind, ranked.c.score))).label(f"{m}_base")
                for m, kind in MEASURES.items()
            ),
            # rule B's baseline: of back pain, whatever the target
            func.max(case((ranked.c.rule_b, ranked.c.score))).label("back_base"),
        )
        .where(ranked.c.r == 1)
        .group_by(ranked.c.ekey)
        .cte("base")
    )
    return base


def _time_points(pairs: Any) -> Any:
    """Per episode, measure and time point: the score nearest t0 + d within its window."""
    tp = day_rows(DAYS, with_width=True).cte("tp")
    at, t0, plus = pairs.c.at_us, pairs.c.t0_us, Dialect.us_plus_days
    cand = (
        select(
            pairs.c.ekey,
            pairs.c.kind,
            tp.c.day,
            pairs.c.score,
            func.row_number()
            .over(
                partition_by=(pairs.c.ekey, pairs.c.kind, tp.c.day),
                order_by=nearest_order(at, t0, tp.c.day, pairs.c.id, plus),
            )
            .label("r"),
        )
        .join_from(pairs, tp, in_time_point_window(at, t0, tp.c.day, tp.c.hw, plus))
        .subquery("cand")
    )
    points = (
        select(
            cand.c.ekey,
            *(
                func.max(case((and_(cand.c.kind == kind, cand.c.day == day), cand.c.score))).label(
                    f"{m}_d{day}"
                )
                for m, kind in MEASURES.items()
                for day in DAYS
            ),
        )
        .where(cand.c.r == 1)
        .group_by(cand.c.ekey)
        .cte("points")
    )
    return points


def _rule_b(scope: Scope, pairs: Any, base: Any) -> tuple[Any, Any]:
    """The first worsening after improvement (rule B) and the last back-pain score, per
    episode, each with its clinical day."""
    d, defs = scope.d, scope.defs
    # rule B: after the first improved back-pain score, the first back-pain score s with
    # s - (lowest since that improvement) >= worsening points, or s >= the back-pain baseline
    b = base.c.back_base
    inep = (
        select(
            pairs.c.ekey,
            pairs.c.at_us,
            (pairs.c.at_us if d.utc else pairs.c.local_us).label("local_us"),
            pairs.c.score,
            b.label("b"),
            improved(b, pairs.c.score, defs).label("improved"),
            func.row_number()
            .over(partition_by=pairs.c.ekey, order_by=(pairs.c.at_us, pairs.c.id))
            .label("rn"),
        )
        .join_from(pairs, base, base.c.ekey == pairs.c.ekey)
        .where(pairs.c.rule_b, pairs.c.at_us > pairs.c.t0_us, b.is_not(None))
        .cte("inep")
    )
    armed = (
        select(inep.c.ekey, func.min(inep.c.rn).label("rn0"))
        .where(inep.c.improved)
        .group_by(inep.c.ekey)
        .subquery("armed")
    )
    after = (
        select(
            inep.c.ekey,
            inep.c.at_us,
            inep.c.local_us,
            inep.c.score,
            inep.c.b,
            func.min(inep.c.score)
            .over(partition_by=inep.c.ekey, order_by=inep.c.rn, rows=(None, -1))
            .label("low"),
        )
        .join_from(inep, armed, and_(armed.c.ekey == inep.c.ekey, inep.c.rn >= armed.c.rn0))
        .subquery("after")
    )
    recurrence = (
        select(
            after.c.ekey,
            func.min(after.c.at_us).label("rec_us"),
            d.day(func.min(after.c.local_us)).label("rec_day"),
        )
        .where(
            after.c.low.is_not(None),
            worsened(d, after.c.score, after.c.low, after.c.b, defs),
        )
        .group_by(after.c.ekey)
        .subquery("recurrence")
    )
    last_pain = (
        select(
            inep.c.ekey,
            func.max(inep.c.at_us).label("last_us"),
            d.day(func.max(inep.c.local_us)).label("last_day"),
            # an episode without an improved score cannot recur: it is not at risk
            func.max(case((inep.c.improved, 1), else_=0)).label("armed"),
        )
        .group_by(inep.c.ekey)
        .subquery("last_pain")
    )
    return recurrence, last_pain


def analgesia(scope: Scope, ep: Any) -> Any:
    """Per episode and time point: counts of active drugs and their OME sums, pivoted."""
    med, first_med = _medications(scope)
    ept = _episode_instants(ep)
    state = _active_state(ept, med)
    return _pivot(_analgesia_rows(ept, first_med, state))


def _medications(scope: Scope) -> tuple[Any, Any]:
    """Each medication record with the time its drug's next record supersedes it; and each
    patient's first medication record and first recorded weight."""
    d = scope.d
    med = (
        select(
            fe.c.patient_id,
            fe.c.medication_status,
            fe.c.is_opioid,
            d.real(fe.c.ome_mg_day).label("ome"),
            d.real(fe.c.ome_mg_kg_day).label("omekg"),
            d.epoch_us(fe.c.occurred_at).label("at_us"),
            case((fe.c.weight_kg.is_not(None), d.epoch_us(fe.c.occurred_at))).label("weighed_us"),
            d.epoch_us(
                func.lead(fe.c.occurred_at).over(
                    partition_by=(fe.c.patient_id, fe.c.drug),
                    order_by=(fe.c.occurred_at, fe.c.id),
                )
            ).label("next_us"),
        )
        .where(fe.c.kind == "medication", *scope.only(fe.c.patient_id))
        .cte("med")
    )
    first_med = (
        select(
            med.c.patient_id,
            func.min(med.c.at_us).label("first_us"),
            func.min(med.c.weighed_us).label("weighed_us"),
        )
        .group_by(med.c.patient_id)
        .subquery("first_med")
    )
    return med, first_med


def _episode_instants(ep: Any) -> Any:
    """Per episode and point, the instant of its state: the first session for the baseline,
    t0 + d + 1 days (the end of day d after t0) otherwise."""
    tpm = day_rows((0, *DAYS), with_width=False).cte("tpm")
    at = case(
        (tpm.c.day == 0, ep.c.first_us),
        else_=ep.c.t0_us + (tpm.c.day + 1) * big(DAY_US),
    )
    ept = (
        select(
            ep.c.ekey,
            ep.c.patient_id,
            ep.c.end_us,
            ep.c.death_us,
            tpm.c.day,
            at.label("t_us"),
        )
        .join_from(ep, tpm, true())
        .cte("ept")
    )
    return ept


def _active_state(ept: Any, med: Any) -> Any:
    """Per episode and point: the drugs active at its instant, counted and their OME summed."""
    opioid = med.c.is_opioid == true()
    state = (
        select(
            ept.c.ekey,
            ept.c.day,
            func.sum(case((opioid, 1), else_=0)).label("n_opioid"),
            func.sum(case((med.c.is_opioid.is_(None), 1), else_=0)).label("n_unknown"),
            func.sum(case((and_(opioid, med.c.ome.is_(None)), 1), else_=0)).label("no_ome"),
            func.sum(case((and_(opioid, med.c.omekg.is_(None)), 1), else_=0)).label("no_omekg"),
            func.sum(case((opioid, med.c.ome))).label("ome"),
            func.sum(case((opioid, med.c.omekg))).label("omekg"),
        )
        .join_from(
            ept,
            med,
            and_(
                med.c.patient_id == ept.c.patient_id,
                med.c.at_us < ept.c.t_us,
                or_(med.c.next_us.is_(None), med.c.next_us >= ept.c.t_us),
                func.coalesce(med.c.medication_status, "active") == "active",
            ),
        )
        .group_by(ept.c.ekey, ept.c.day)
        .subquery("state")
    )
    return state


def _analgesia_rows(ept: Any, first_med: Any, state: Any) -> Any:
    """Per episode and point: whether it counts, its OME sums and whether opioid-free."""
    counts = and_(
        first_med.c.first_us < ept.c.t_us,
        or_(
            ept.c.day == 0,
            and_(
                or_(ept.c.end_us.is_(None), ept.c.t_us <= ept.c.end_us),
                or_(ept.c.death_us.is_(None), ept.c.t_us <= ept.c.death_us),
            ),
        ),
    )
    unknown = func.coalesce(state.c.n_unknown, 0)
    row = (
        select(
            ept.c.ekey,
            ept.c.day,
            case((counts, 1), else_=0).label("med"),
            case(
                (
                    and_(counts, unknown == 0, func.coalesce(state.c.no_ome, 0) == 0),
                    func.coalesce(state.c.ome, 0.0),
                )
            ).label("ome"),
            case(
                (
                    and_(
                        counts,
                        unknown == 0,
                        func.coalesce(state.c.no_omekg, 0) == 0,
                        first_med.c.weighed_us < ept.c.t_us,  # a weight recorded
                    ),
                    func.coalesce(state.c.omekg, 0.0),
                )
            ).label("omekg"),
            case(
                (and_(counts, func.coalesce(state.c.n_opioid, 0) > 0), 0),
                (and_(counts, unknown == 0), 1),
            ).label("free"),
        )
        .select_from(ept)
        .outerjoin(first_med, first_med.c.patient_id == ept.c.patient_id)
        .outerjoin(state, and_(state.c.ekey == ept.c.ekey, state.c.day == ept.c.day))
        .subquery("med_row")
    )
    return row


def _pivot(row: Any) -> Any:
    """The rows of `_analgesia_rows`, a column per measure and point."""

    def pick(column: str, day: int) -> Any:
        return func.max(case((row.c.day == day, row.c[column])))

    return (
        select(
            row.c.ekey,
            *(
                pick(column, day).label(f"{column}_{name}")
                for column in ("med", "ome", "omekg", "free")
                for day, name in zip((0, *DAYS), POINTS, strict=True)
            ),
        )
        .group_by(row.c.ekey)
        .subquery("meds")
    )


def contact(scope: Scope, sess: Any) -> Any:
    """The last thing known of each patient, a follow-up event or a procedure, on the local
    clock (`last_us`)."""
    d = scope.d
    events = select(fe.c.patient_id, d.local_us(func.max(fe.c.occurred_at)).label("us")).where(
        *scope.only(fe.c.patient_id)
    )
    events = events.group_by(fe.c.patient_id)
    last_session = d.local_us(func.max(sess.c.performed_at), func.max(sess.c.at_us))
    procedures = select(sess.c.patient_id, last_session.label("us")).group_by(sess.c.patient_id)
    both = union_all(events, procedures).subquery("contacts")
    return (
        select(both.c.patient_id, func.max(both.c.us).label("last_us"))
        .group_by(both.c.patient_id)
        .subquery("contact")
    )
