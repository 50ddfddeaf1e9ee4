"""The planted registry of the attacker suite (issue 16; docs/disclosure-control-design.md 6.1):
the reproduction of the issue, 6 patients of ICCC-3 group VIII (malignant bone tumours), 5 boys
and 1 girl, the girl being the target whose scores, presence and date an attacker is after.
Made through the API, as any registry is."""

from dataclasses import dataclass
from datetime import date, timedelta

from httpx import AsyncClient

from tests.factories import add_pain, make_patient, make_procedure

# the boys' (baseline, day-14) pain: baseline sum 32, day-14 sum 22 (means 6.4 and 4.4)
BOYS: tuple[tuple[float, float], ...] = ((5, 4), (6, 4), (6, 5), (7, 4), (8, 5))
BOYS_FIRST_DAY = date(2020, 3, 2)  # one a week from here


@dataclass(frozen=True)
class Target:
    baseline: float
    day14: float
    performed: date


TARGET = Target(baseline=9, day14=1, performed=date(2020, 6, 10))


async def _episode(
    client: AsyncClient, sex: str, performed: date, baseline: float, day14: float
) -> None:
    patient = await make_patient(
        client, sex=sex, birth_date="2008-05-01", histology="Ewing sarcoma", histology_group="VIII"
    )
    procedure = await make_procedure(
        client, patient["id"], performed_at=f"{performed.isoformat()}T09:30:00Z"
    )
    before = performed - timedelta(days=1)
    after = performed + timedelta(days=14)
    await add_pain(client, patient["id"], f"{before.isoformat()}T10:00:00Z", baseline)
    await add_pain(
        client, patient["id"], f"{after.isoformat()}T10:00:00Z", day14, procedure_id=procedure["id"]
    )


async def plant(client: AsyncClient, target: Target | None = TARGET) -> None:
    """The 5 boys, and the target girl unless None (the presence attacks compare both)."""
    for i, (baseline, day14) in enumerate(BOYS):
        await _episode(client, "male", BOYS_FIRST_DAY + timedelta(weeks=i), baseline, day14)
    if target is not None:
        await _episode(client, "female", target.performed, target.baseline, target.day14)
