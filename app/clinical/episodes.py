"""Episodes (clinical-rules.md section 3): a procedure, or a staged series counted from its last
session, ended by a later procedure on any of its levels. Pure functions over plain data."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from app.clinical.enums import AUGMENTATION_KINDS, TargetPainSite


@dataclass(frozen=True)
class ProcedureFact:
    id: uuid.UUID
    performed_at: datetime
    kind: str
    levels: frozenset[str]
    series_id: uuid.UUID | None = None
    target_site: str = TargetPainSite.back

    @property
    def episode_key(self) -> uuid.UUID:
        """Its series, or itself when it is a single session."""
        return self.series_id or self.id


@dataclass(frozen=True)
class Episode:
    """A procedure, or a staged series counted from its last session."""

    key: uuid.UUID  # the series id, or the procedure id of a single session
    procedure_ids: tuple[uuid.UUID, ...]
    kind: str
    levels: frozenset[str]
    first_at: datetime  # the first session: the baseline is taken before it
    t0: datetime  # the last session: follow-up days count from it
    ended_at: datetime | None = None  # a later procedure on any of the same levels
    ended_by: uuid.UUID | None = None
    # the pain its first session is done for: its baseline, rule A and outcome figures use it
    target_site: str = TargetPainSite.back

    @property
    def is_augmentation(self) -> bool:
        return self.kind in AUGMENTATION_KINDS

    def contains(self, at: datetime) -> bool:
        return at > self.t0 and (self.ended_at is None or at < self.ended_at)


def ends(later: ProcedureFact, episode: Episode) -> bool:
    """A procedure ends an episode: after its t0, of another episode, on one of its levels
    (app.clinical.predicates.ends_episode in SQL)."""
    return (
        later.performed_at > episode.t0
        and later.episode_key != episode.key
        and bool(later.levels & episode.levels)
    )


def build_episodes(procedures: Iterable[ProcedureFact]) -> list[Episode]:
    """Group staged sessions into episodes and end each at the next procedure on its levels."""
    everything = sorted(procedures, key=lambda p: (p.performed_at, p.id))
    groups: dict[uuid.UUID, list[ProcedureFact]] = {}
    for p in everything:
        groups.setdefault(p.episode_key, []).append(p)
    episodes = []
    for key, group in groups.items():
        e = Episode(
            key=key,
            procedure_ids=tuple(p.id for p in group),
            kind=group[0].kind,
            levels=frozenset().union(*(p.levels for p in group)),
            first_at=group[0].performed_at,
            t0=group[-1].performed_at,
            target_site=group[0].target_site,
        )
        ender = next((p for p in everything if ends(p, e)), None)
        if ender is not None:
            e = replace(e, ended_at=ender.performed_at, ended_by=ender.id)
        episodes.append(e)
    return sorted(episodes, key=lambda e: (e.first_at, e.key))
