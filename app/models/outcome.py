"""The materialised per-episode summary behind the outcome statistics (app/outcomes).

Derived data only: every row is recomputed in SQL from procedures, levels, follow-up events and
the patient (app/outcomes/summary.py) and can be rebuilt at any time. Database triggers on the
source tables append the patient to `outcome_dirty` in the same transaction as the write (so no
write path can forget it, bulk inserts included); a statistics read first recomputes the dirty
patients, so the figures are never stale after a write.

Time points: `base` is before the first session (baseline), `dN` is day N after t0 (the last
session), N in app.clinical.definitions.TIME_POINTS. Timestamps are also kept as integer
microseconds since the epoch (`*_us`): exact arithmetic, the same on both databases.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Double, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class OutcomeEpisode(Base):
    """One episode (a procedure, or a staged series counted from its last session)."""

    __tablename__ = "outcome_episodes"
    __table_args__ = (
        Index("ix_outcome_episodes_histology_group_first_us", "histology_group", "first_us"),
        Index("ix_outcome_episodes_first_us", "first_us"),
    )

    # The columns every statement reads come first, fixed-width ones leading: PostgreSQL
    # decodes a row's columns up to the last one a statement uses.
    episode_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    first_us: Mapped[int] = mapped_column(BigInteger)
    t0_us: Mapped[int] = mapped_column(BigInteger)
    level_mask: Mapped[int] = mapped_column(BigInteger)  # bit n: the vertebra at position n
    # all episodes, level treatments and complications of the patient: bounds for counting
    # patients
    patient_episodes: Mapped[int]
    patient_levels: Mapped[int]
    patient_complications: Mapped[int]
    n_sessions: Mapped[int]
    n_levels: Mapped[int]
    max_levels: Mapped[int]  # the most levels treated in one of its sessions
    n_repeats: Mapped[int]  # level treatments of a vertebra the same kind of procedure treated
    staged: Mapped[bool]
    has_repeat: Mapped[bool]
    cervical: Mapped[bool]
    thoracic: Mapped[bool]
    lumbar: Mapped[bool]
    sacral: Mapped[bool]
    # Kaplan-Meier, in whole calendar days since t0 (the registry's: REGISTRY_TIME_ZONE)
    survival_day: Mapped[int]
    survival_event: Mapped[bool]
    recurrence_event: Mapped[bool]
    recurrence_day: Mapped[int | None]  # null: no baseline, not at risk of a rule-B worsening
    # cohort attributes: the first session's kind and indication, the patient's at that time
    age: Mapped[int | None]  # whole years at the first session
    kind: Mapped[str] = mapped_column(String(32))
    sex: Mapped[str] = mapped_column(String(16))
    indication: Mapped[str | None] = mapped_column(String(32))
    # the first session's target pain site: the site of pain_* (rule B and recurrence: back)
    target_pain_site: Mapped[str] = mapped_column(String(8), server_default="back")
    histology_group: Mapped[str | None] = mapped_column(String(4))  # never the free text
    # level treatments by cement leakage site (levels_treated.leakage; null: not recorded)
    leakage_none: Mapped[int]
    leakage_basivertebral_vein: Mapped[int]
    leakage_segmental_vein: Mapped[int]
    leakage_cortical_paravertebral: Mapped[int]
    leakage_intradiscal: Mapped[int]
    leakage_epidural: Mapped[int]
    leakage_foraminal: Mapped[int]
    leakage_not_recorded: Mapped[int]

    # back pain (0-10): baseline and the score nearest each time point
    pain_base: Mapped[float | None] = mapped_column(Double)
    pain_d7: Mapped[float | None] = mapped_column(Double)
    pain_d14: Mapped[float | None] = mapped_column(Double)
    pain_d30: Mapped[float | None] = mapped_column(Double)
    pain_d90: Mapped[float | None] = mapped_column(Double)
    pain_d180: Mapped[float | None] = mapped_column(Double)
    pain_d365: Mapped[float | None] = mapped_column(Double)
    # the score at the time point minus the baseline (null without both)
    pain_change_d7: Mapped[float | None] = mapped_column(Double)
    pain_change_d14: Mapped[float | None] = mapped_column(Double)
    pain_change_d30: Mapped[float | None] = mapped_column(Double)
    pain_change_d90: Mapped[float | None] = mapped_column(Double)
    pain_change_d180: Mapped[float | None] = mapped_column(Double)
    pain_change_d365: Mapped[float | None] = mapped_column(Double)
    # the score at the time point against the baseline (null without both): improved
    # (app.clinical.pain.is_improved) and the IMMPACT bands, reduction >= 30 % and >= 50 %
    improved_d7: Mapped[bool | None]
    improved_d14: Mapped[bool | None]
    improved_d30: Mapped[bool | None]
    improved_d90: Mapped[bool | None]
    improved_d180: Mapped[bool | None]
    improved_d365: Mapped[bool | None]
    band30_d7: Mapped[bool | None]
    band30_d14: Mapped[bool | None]
    band30_d30: Mapped[bool | None]
    band30_d90: Mapped[bool | None]
    band30_d180: Mapped[bool | None]
    band30_d365: Mapped[bool | None]
    band50_d7: Mapped[bool | None]
    band50_d14: Mapped[bool | None]
    band50_d30: Mapped[bool | None]
    band50_d90: Mapped[bool | None]
    band50_d180: Mapped[bool | None]
    band50_d365: Mapped[bool | None]
    # performance status (Lansky / Karnofsky, 0-100)
    ps_base: Mapped[float | None] = mapped_column(Double)
    ps_d7: Mapped[float | None] = mapped_column(Double)
    ps_d14: Mapped[float | None] = mapped_column(Double)
    ps_d30: Mapped[float | None] = mapped_column(Double)
    ps_d90: Mapped[float | None] = mapped_column(Double)
    ps_d180: Mapped[float | None] = mapped_column(Double)
    ps_d365: Mapped[float | None] = mapped_column(Double)
    # the score at the time point minus the baseline (null without both)
    ps_change_d7: Mapped[float | None] = mapped_column(Double)
    ps_change_d14: Mapped[float | None] = mapped_column(Double)
    ps_change_d30: Mapped[float | None] = mapped_column(Double)
    ps_change_d90: Mapped[float | None] = mapped_column(Double)
    ps_change_d180: Mapped[float | None] = mapped_column(Double)
    ps_change_d365: Mapped[float | None] = mapped_column(Double)
    # Oswestry Disability Index (0-100)
    odi_base: Mapped[float | None] = mapped_column(Double)
    odi_d7: Mapped[float | None] = mapped_column(Double)
    odi_d14: Mapped[float | None] = mapped_column(Double)
    odi_d30: Mapped[float | None] = mapped_column(Double)
    odi_d90: Mapped[float | None] = mapped_column(Double)
    odi_d180: Mapped[float | None] = mapped_column(Double)
    odi_d365: Mapped[float | None] = mapped_column(Double)
    # the score at the time point minus the baseline (null without both)
    odi_change_d7: Mapped[float | None] = mapped_column(Double)
    odi_change_d14: Mapped[float | None] = mapped_column(Double)
    odi_change_d30: Mapped[float | None] = mapped_column(Double)
    odi_change_d90: Mapped[float | None] = mapped_column(Double)
    odi_change_d180: Mapped[float | None] = mapped_column(Double)
    odi_change_d365: Mapped[float | None] = mapped_column(Double)

    # analgesia at the time point: med_* true when it counts (medication history known, inside
    # the episode, before death); ome_* / omekg_* null when not computable; opioid_free_* null
    # when a drug of unknown class is active
    med_base: Mapped[bool]
    med_d7: Mapped[bool]
    med_d14: Mapped[bool]
    med_d30: Mapped[bool]
    med_d90: Mapped[bool]
    med_d180: Mapped[bool]
    med_d365: Mapped[bool]
    ome_base: Mapped[float | None] = mapped_column(Double)
    ome_d7: Mapped[float | None] = mapped_column(Double)
    ome_d14: Mapped[float | None] = mapped_column(Double)
    ome_d30: Mapped[float | None] = mapped_column(Double)
    ome_d90: Mapped[float | None] = mapped_column(Double)
    ome_d180: Mapped[float | None] = mapped_column(Double)
    ome_d365: Mapped[float | None] = mapped_column(Double)
    omekg_base: Mapped[float | None] = mapped_column(Double)
    omekg_d7: Mapped[float | None] = mapped_column(Double)
    omekg_d14: Mapped[float | None] = mapped_column(Double)
    omekg_d30: Mapped[float | None] = mapped_column(Double)
    omekg_d90: Mapped[float | None] = mapped_column(Double)
    omekg_d180: Mapped[float | None] = mapped_column(Double)
    omekg_d365: Mapped[float | None] = mapped_column(Double)
    opioid_free_base: Mapped[bool | None]
    opioid_free_d7: Mapped[bool | None]
    opioid_free_d14: Mapped[bool | None]
    opioid_free_d30: Mapped[bool | None]
    opioid_free_d90: Mapped[bool | None]
    opioid_free_d180: Mapped[bool | None]
    opioid_free_d365: Mapped[bool | None]

    # follow-up completeness, the part known from the data: the time point's window ends
    # before the episode ends and before the day of death (the clock is checked at query time)
    window_d7: Mapped[bool]
    window_d14: Mapped[bool]
    window_d30: Mapped[bool]
    window_d90: Mapped[bool]
    window_d180: Mapped[bool]
    window_d365: Mapped[bool]

    # complications of its sessions (NULL: none): in all, sessions / levels with one, major
    # (SIR C-F), symptomatic, and by SIR classic, SIR 2017 and CIRSE grade
    cx_total: Mapped[int | None]
    cx_sessions: Mapped[int | None]
    cx_level_linked: Mapped[int | None]
    cx_levels: Mapped[int | None]
    cx_major: Mapped[int | None]
    cx_symptomatic: Mapped[int | None]
    cx_sir_a: Mapped[int | None]
    cx_sir_b: Mapped[int | None]
    cx_sir_c: Mapped[int | None]
    cx_sir_d: Mapped[int | None]
    cx_sir_e: Mapped[int | None]
    cx_sir_f: Mapped[int | None]
    cx_sir_ungraded: Mapped[int | None]
    cx_sir2017_mild: Mapped[int | None]
    cx_sir2017_moderate: Mapped[int | None]
    cx_sir2017_severe: Mapped[int | None]
    cx_sir2017_life_threatening: Mapped[int | None]
    cx_sir2017_death: Mapped[int | None]
    cx_sir2017_ungraded: Mapped[int | None]
    cx_cirse_1: Mapped[int | None]
    cx_cirse_2: Mapped[int | None]
    cx_cirse_3: Mapped[int | None]
    cx_cirse_4: Mapped[int | None]
    cx_cirse_5: Mapped[int | None]
    cx_cirse_6: Mapped[int | None]
    cx_cirse_ungraded: Mapped[int | None]

    # read by no aggregate: the episode's dates
    first_at: Mapped[datetime]
    t0: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    death_date: Mapped[date | None]


class OutcomePainScore(Base):
    """A back-pain score after t0 and inside an episode: the rows of the pain trajectory
    (app/outcomes/series.py), kept with the episode's summary row."""

    __tablename__ = "outcome_pain_scores"
    __table_args__ = (
        Index("ix_outcome_pain_scores_episode_key_day", "episode_key", "day", "score"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    episode_key: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int]  # whole days since t0: (occurred - t0) // 1 day, from 0
    score: Mapped[float] = mapped_column(Double)


class OutcomeDirty(Base):
    """A patient whose summary rows must be recomputed; appended by database triggers."""

    __tablename__ = "outcome_dirty"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    patient_id: Mapped[uuid.UUID]
    claimed: Mapped[bool] = mapped_column(default=False, server_default="0")


class OutcomeMeta(Base):
    """One row: the settings the summary was computed with, and a generation counter."""

    __tablename__ = "outcome_meta"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(200))
    generation: Mapped[int] = mapped_column(BigInteger)
