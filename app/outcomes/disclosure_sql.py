"""The disclosure keys of a cohort, in SQL (issue 16): the cohort's key, from which the noise of
its minimum-cohort decision is drawn (app/outcomes/disclosure.py; design section 3.10).

Interim: one key per cohort from its distinct patients' keys (the patients' record keys are
`disclosure_key mod (2^22 - 1) + 1`, never 0, so a cohort and the same cohort less one patient
never share a key). The per-figure cell keys of design section 3.1 (an md5 record key per
episode, packed in `outcome_episodes.cell_unit`) replace it when the sheets are perturbed.
"""

from sqlalchemy import BigInteger, cast, func, select

from app.models import Patient
from app.outcomes.cohort import Cohort
from app.outcomes.cohort_sql import Runner, episodes
from app.outcomes.disclosure import KEY_MODULUS


async def cohort_key(run: Runner, cohort: Cohort) -> tuple[int, int]:
    """(patients, key) of the cohort: its distinct patients and the sum of their record keys
    mod 2^22."""
    members = select(episodes(cohort, run.dialect.time_zone).c.patient_id).distinct().subquery()
    record = cast(Patient.disclosure_key % (KEY_MODULUS - 1) + 1, BigInteger)
    query = select(func.count(), func.coalesce(func.sum(record), 0)).select_from(
        members.join(Patient.__table__, Patient.id == members.c.patient_id)
    )
    rows = await run.rows(query)
    patients, total = rows[0]
    return int(patients), int(total) % KEY_MODULUS
