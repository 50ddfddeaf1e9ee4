"""Episodes in SQL (app.clinical.episodes.build_episodes): sessions, level treatments, bounds.

- a session's episode key is its series id, or its own id (predicates.episode_key);
- first_at / t0: the episode's first and last sessions; kind, indication and target pain
  site: its first's;
- it ends at the first later procedure (of any kind) of the patient on one of its levels
  (predicates.ends_episode);
- a level treatment repeats when an earlier procedure of the same kind class (vertebroplasty
  and kyphoplasty are one class) treated that level of the patient.
"""

from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, func, literal, select, true

from app.clinical.levels import Region
from app.clinical.predicates import ends_episode, episode_key, is_augmentation, region_of_level
from app.models import Complication, LevelTreated, Patient, Procedure
from app.outcomes.definitions import (
    CIRSE_GRADES,
    LEAKAGE_SITES,
    MAJOR_SIR,
    SIR_2017_GRADES,
    SIR_GRADES,
    Scope,
)

REGION_NAMES = tuple(region.value for region in Region)
p = Procedure.__table__
lt = LevelTreated.__table__
pt = Patient.__table__
cx = Complication.__table__


def sessions(scope: Scope) -> Any:
    ekey = episode_key(p.c.series_id, p.c.id)
    return (
        select(
            p.c.id.label("procedure_id"),
            p.c.patient_id,
            ekey.label("ekey"),
            p.c.series_id,
            p.c.kind,
            p.c.indication,
            p.c.target_pain_site,
            p.c.performed_at,
            scope.d.epoch_us(p.c.performed_at).label("at_us"),
            func.row_number()
            .over(partition_by=ekey, order_by=(p.c.performed_at, p.c.id))
            .label("rank"),
        )
        .where(*scope.only(p.c.patient_id))
        .cte("sess")
    )


def levels(scope: Scope, sess: Any) -> Any:
    kind_class = case((is_augmentation(sess.c.kind), "augmentation"), else_=sess.c.kind)
    region = region_of_level(lt.c.level)
    rank = func.row_number().over(
        partition_by=(sess.c.patient_id, lt.c.level, kind_class),
        order_by=(sess.c.at_us, sess.c.procedure_id),
    )
    return (
        select(
            lt.c.id.label("level_id"),
            sess.c.ekey,
            sess.c.patient_id,
            lt.c.procedure_id,
            lt.c.level,
            lt.c.position,
            region.label("region"),
            case((rank > 1, 1), else_=0).label("is_repeat"),
            lt.c.leakage,
            sess.c.at_us,
            sess.c.performed_at,
        )
        .join_from(lt, sess, sess.c.procedure_id == lt.c.procedure_id)
        .cte("lv")
    )


def complications(scope: Scope, sess: Any) -> Any:
    """Per episode: its sessions' complications in all and by grade (NULL when none)."""
    c = cx.c

    def counting(test: Any) -> Any:
        return func.sum(case((test, 1), else_=0))

    def graded(column: Any, prefix: str, grades: tuple[str, ...], cast: Any = str) -> list[Any]:
        return [
            counting(column.is_(None) if g == "ungraded" else column == cast(g)).label(
                f"{prefix}_{g.lower()}"
            )
            for g in grades
        ]

    return (
        select(
            sess.c.ekey,
            func.count().label("cx_total"),
            func.count(func.distinct(c.procedure_id)).label("cx_sessions"),
            func.count(c.level_id).label("cx_level_linked"),
            func.count(func.distinct(c.level_id)).label("cx_levels"),
            counting(c.sir_classic.in_(MAJOR_SIR)).label("cx_major"),
            counting(c.symptomatic == true()).label("cx_symptomatic"),
            *graded(c.sir_classic, "cx_sir", SIR_GRADES),
            *graded(c.sir_2017, "cx_sir2017", SIR_2017_GRADES),
            *graded(c.cirse_grade, "cx_cirse", CIRSE_GRADES, int),
        )
        .join_from(cx, sess, sess.c.procedure_id == c.procedure_id)
        .group_by(sess.c.ekey)
        .subquery("complication_counts")
    )


def _leaks(column: Any, site: str) -> Any:
    return column.is_(None) if site == "not_recorded" else column == site


def episode_base(scope: Scope, sess: Any, lv: Any) -> tuple[Any, Any]:
    """The episodes (`eps`: their sessions' span) and their base row (`ep`): when they end,
    what their first session was, the patient's data, the levels' counts and flags."""
    eps = _episode_spans(sess)
    firsts = (
        select(sess.c.ekey, sess.c.kind, sess.c.indication, sess.c.target_pain_site)
        .where(sess.c.rank == 1)
        .subquery("firsts")
    )
    widest, lagg = _level_figures(lv)
    ended = _episode_ends(eps, lv)
    return eps, _episode_row(scope, eps, firsts, ended, lagg, widest)


def _episode_spans(sess: Any) -> Any:
    """Per episode: its first and last (t0) session, how many sessions, whether staged."""
    eps = (
        select(
            sess.c.ekey,
            sess.c.patient_id,
            func.min(sess.c.performed_at).label("first_at"),
            func.max(sess.c.performed_at).label("t0"),
            func.min(sess.c.at_us).label("first_us"),
            func.max(sess.c.at_us).label("t0_us"),
            func.count().label("n_sessions"),
            func.max(case((sess.c.series_id.is_not(None), 1), else_=0)).label("staged"),
        )
        .group_by(sess.c.ekey, sess.c.patient_id)
        .cte("eps")
    )
    return eps


def _level_figures(lv: Any) -> tuple[Any, Any]:
    """Per episode: the most levels of one session (`widest`); the level treatments, repeats,
    leakage per site, the vertebrae (a bit mask) and the regions treated (`lagg`)."""
    per_session = (
        select(lv.c.ekey, func.count().label("n"))
        .group_by(lv.c.ekey, lv.c.procedure_id)
        .subquery("per_session")
    )
    widest = (
        select(per_session.c.ekey, func.max(per_session.c.n).label("max_levels"))
        .group_by(per_session.c.ekey)
        .subquery("widest")
    )
    region_flags = [func.max(case((lv.c.region == r, 1), else_=0)).label(r) for r in REGION_NAMES]
    lagg = (
        select(
            lv.c.ekey,
            func.count().label("n_levels"),
            func.sum(lv.c.is_repeat).label("n_repeats"),
            *(
                func.sum(case((_leaks(lv.c.leakage, site), 1), else_=0)).label(f"leakage_{site}")
                for site in LEAKAGE_SITES
            ),
            # one bit per vertebra (its craniocaudal position): distinct powers sum to an OR
            func.sum(func.distinct(literal(1, BigInteger).op("<<")(lv.c.position))).label(
                "level_mask"
            ),
            *region_flags,
        )
        .group_by(lv.c.ekey)
        .subquery("lagg")
    )
    return widest, lagg


def _episode_ends(eps: Any, lv: Any) -> Any:
    """Per episode: when a later episode of the patient ends it (app.clinical.episodes)."""
    own = select(lv.c.ekey, lv.c.patient_id, lv.c.level).distinct().subquery("own")
    later = lv.alias("later")
    ended = (
        select(
            own.c.ekey,
            func.min(later.c.at_us).label("end_us"),
            func.min(later.c.performed_at).label("ended_at"),
        )
        .join_from(own, eps, eps.c.ekey == own.c.ekey)
        .join(
            later,
            and_(
                later.c.patient_id == own.c.patient_id,
                ends_episode(
                    later.c.ekey,
                    later.c.at_us,
                    own.c.ekey,
                    eps.c.t0_us,
                    later.c.level == own.c.level,
                ),
            ),
        )
        .group_by(own.c.ekey)
        .subquery("ended")
    )
    return ended


def _episode_row(scope: Scope, eps: Any, firsts: Any, ended: Any, lagg: Any, widest: Any) -> Any:
    """The episode's base row: its span and end, its first session, the patient's data (age
    at the first session, the death's instant), the level figures and per-patient totals."""
    d = scope.d
    age = case(
        (pt.c.birth_date.is_(None), None),
        else_=(d.ymd(eps.c.first_at) - d.ymd(pt.c.birth_date, is_date=True))
        // literal(10000, Integer),
    )
    ep = (
        select(
            eps.c.ekey,
            eps.c.patient_id,
            eps.c.first_at,
            eps.c.t0,
            eps.c.first_us,
            eps.c.t0_us,
            eps.c.n_sessions,
            eps.c.staged,
            ended.c.ended_at,
            ended.c.end_us,
            firsts.c.kind,
            firsts.c.indication,
            firsts.c.target_pain_site,
            pt.c.sex,
            pt.c.histology_group,
            age.label("age"),
            pt.c.death_date,
            # death: from the start of the date of death, in the registry's time zone
            case((pt.c.death_date.is_(None), None), else_=d.day_start_us(pt.c.death_date)).label(
                "death_us"
            ),
            func.count().over(partition_by=eps.c.patient_id).label("patient_episodes"),
            func.coalesce(lagg.c.n_levels, 0).label("n_levels"),
            func.coalesce(widest.c.max_levels, 0).label("max_levels"),
            func.coalesce(lagg.c.n_repeats, 0).label("n_repeats"),
            *(
                func.coalesce(lagg.c[f"leakage_{site}"], 0).label(f"leakage_{site}")
                for site in LEAKAGE_SITES
            ),
            func.coalesce(func.sum(lagg.c.n_levels).over(partition_by=eps.c.patient_id), 0).label(
                "patient_levels"
            ),
            func.coalesce(lagg.c.level_mask, 0).label("level_mask"),
            *(func.coalesce(lagg.c[r], 0).label(r) for r in REGION_NAMES),
        )
        .join_from(eps, pt, pt.c.id == eps.c.patient_id)
        .join(firsts, firsts.c.ekey == eps.c.ekey)
        .outerjoin(ended, ended.c.ekey == eps.c.ekey)
        .outerjoin(lagg, lagg.c.ekey == eps.c.ekey)
        .outerjoin(widest, widest.c.ekey == eps.c.ekey)
        .cte("ep")
    )
    return ep
