"""The keys of the outcome figures (GET /stats/outcomes), spelt once.

A figure is declared under a key (app.outcomes.sheet) and read back by the same key when
rendered; both sides take it from here, so a key cannot be spelt two ways (an attribute or an
argument mypy checks), and a key nothing declared is an error when read (UnknownFigure).
"""

from dataclasses import dataclass
from typing import Literal, NewType

FigureKey = NewType("FigureKey", str)

Omes = Literal["ome", "omekg"]
Grading = Literal["sir", "sir2017", "cirse"]


def n_of(key: str) -> FigureKey:
    """The n of a distribution: how many rows have a value (Sheet.measure declares it)."""
    return FigureKey(f"{key}.n")


def not_of(key: str) -> FigureKey:
    """The complement of a binary count within its total (a hidden count)."""
    return FigureKey(f"{key}.not")


class Counts:
    patients = FigureKey("counts.patients")
    episodes = FigureKey("counts.episodes")
    sessions = FigureKey("counts.sessions")
    staged_series = FigureKey("counts.staged_series")
    single = FigureKey("counts.single")
    level_treatments = FigureKey("counts.level_treatments")
    repeats = FigureKey("counts.repeats")
    first_treatments = FigureKey("counts.first_treatments")
    distinct_vertebrae = FigureKey("counts.distinct_vertebrae")
    vertebrae_per_patient = FigureKey("counts.vertebrae_per_patient")


def leakage(site: str) -> FigureKey:
    return FigureKey(f"leakage.{site}")


class Pain:
    base = FigureKey("pain.base")
    baseline_missing = FigureKey("pain.baseline_missing")


@dataclass(frozen=True)
class PainPoint:
    """The keys of the pain figures at one time point (day d after t0)."""

    day: int

    @property
    def score(self) -> FigureKey:
        return FigureKey(f"pain.d{self.day}")

    @property
    def n(self) -> FigureKey:
        return n_of(self.score)

    @property
    def change(self) -> FigureKey:
        return FigureKey(f"{self.score}.change")

    @property
    def change_n(self) -> FigureKey:
        return n_of(self.change)

    @property
    def improved(self) -> FigureKey:
        return FigureKey(f"{self.score}.improved")

    @property
    def pain_free(self) -> FigureKey:
        return FigureKey(f"{self.score}.pain_free")

    @property
    def reducible(self) -> FigureKey:
        return FigureKey(f"{self.score}.reducible")

    def immpact(self, band: Literal[30, 50]) -> FigureKey:
        return FigureKey(f"{self.score}.immpact{band}")

    @property
    def eligible(self) -> FigureKey:
        return FigureKey(f"{self.score}.eligible")

    @property
    def complete(self) -> FigureKey:
        return FigureKey(f"{self.score}.complete")


@dataclass(frozen=True)
class AnalgesiaPoint:
    """The keys of the analgesia figures at one point ('base', 'd14', ...)."""

    name: str

    def _key(self, part: str) -> FigureKey:
        return FigureKey(f"analgesia.{self.name}.{part}")

    @property
    def counted(self) -> FigureKey:
        return self._key("counted")

    def ome(self, measure: Omes) -> FigureKey:
        return self._key(measure)

    def ome_missing(self, measure: Omes) -> FigureKey:
        return self._key(f"{measure}.missing")

    @property
    def known(self) -> FigureKey:
        return self._key("known")

    @property
    def unknown(self) -> FigureKey:
        return self._key("unknown")

    @property
    def opioid_free(self) -> FigureKey:
        return self._key("opioid_free")


@dataclass(frozen=True)
class Scored:
    """The keys of a scored measure (performance, function_odi): baseline and time points."""

    name: str

    @property
    def base(self) -> FigureKey:
        return FigureKey(f"{self.name}.base")

    def at(self, day: int) -> FigureKey:
        return FigureKey(f"{self.name}.d{day}")

    def change(self, day: int) -> FigureKey:
        return FigureKey(f"{self.at(day)}.change")


@dataclass(frozen=True)
class Curve:
    """The keys of a Kaplan-Meier curve; `n`: the count of its observations."""

    name: str
    n: FigureKey

    @property
    def events(self) -> FigureKey:
        return FigureKey(f"{self.name}.events")

    @property
    def censored(self) -> FigureKey:
        return FigureKey(f"{self.name}.censored")

    @property
    def median(self) -> FigureKey:
        return FigureKey(f"{self.name}.median")

    def at(self, day: int) -> FigureKey:
        return FigureKey(f"{self.name}.at.{day}")

    def at_risk(self, day: int) -> FigureKey:
        return FigureKey(f"{self.name}.at_risk.{day}")


RECURRENCE = Curve("recurrence", FigureKey("recurrence.n"))
SURVIVAL = Curve("survival", Counts.episodes)


class Complications:
    total = FigureKey("complications.total")
    sessions_with = FigureKey("complications.sessions_with")
    level_linked = FigureKey("complications.level_linked")
    levels_with = FigureKey("complications.levels_with")
    major = FigureKey("complications.major")
    symptomatic = FigureKey("complications.symptomatic")
    asymptomatic = FigureKey("complications.asymptomatic")

    @staticmethod
    def grade(grading: Grading, grade: str) -> FigureKey:
        return FigureKey(f"complications.{grading}.{grade}")


class Triggers:
    episodes_with = FigureKey("triggers.episodes_with")

    @staticmethod
    def rule(rule: str) -> FigureKey:
        return FigureKey(f"triggers.{rule}")


BreakdownKey = NewType("BreakdownKey", str)  # a figure of a breakdown row, within its row


class Breakdown:
    """The figures of one row of GET /stats/breakdown (app.outcomes.breakdown), by their key
    within the row: what each group's aggregate counts under. The sheet holds them under the
    group's key (`in_group`)."""

    patients = BreakdownKey("patients")
    episodes = BreakdownKey("episodes")
    sessions = BreakdownKey("sessions")
    baseline_pain = BreakdownKey("baseline_pain")
    pain_d14 = BreakdownKey("pain_d14")
    pain_d30 = BreakdownKey("pain_d30")
    success = BreakdownKey("success")
    both = BreakdownKey("both")
    eligible = BreakdownKey("eligible")
    complete = BreakdownKey("complete")
    known = BreakdownKey("known")
    free = BreakdownKey("free")

    @staticmethod
    def n(measure: BreakdownKey) -> BreakdownKey:
        """The n of one of the row's distributions (n_of)."""
        return BreakdownKey(n_of(measure))

    @staticmethod
    def not_(count: BreakdownKey) -> BreakdownKey:
        """The complement of one of the row's binary counts (not_of)."""
        return BreakdownKey(not_of(count))


def in_group(group: str, key: BreakdownKey) -> FigureKey:
    """A breakdown figure in the row of one group (or of the total)."""
    return FigureKey(f"{group}.{key}")
