"""What an accepted event leaves incomplete, said to the sender as `warnings` on its result:
waiting for its procedure, a drug outside the registry's list or without a computable OME, pain
at a site that does not drive the imaging triggers. Pure: the event and its outcome in, the
warnings out (replays and log reads recompute them from the stored payload)."""

from difflib import get_close_matches

from app.clinical.enums import PainSite
from app.follow_up.opioids import FACTORS_VERSION, KNOWN_DRUGS, NON_OPIOIDS, compute_ome
from app.ingestion.data import MedicationData, PainData
from app.ingestion.mappers import Incoming
from app.ingestion.schemas import EventWarning


def _awaiting(ev: Incoming) -> EventWarning:
    ref = ev.procedure_key[1] if ev.procedure_key else "its procedure"
    return EventWarning(
        code="awaiting-procedure",
        message=f"Procedure {ref!r} has not arrived yet: this record is kept and linked to it "
        "when it does; until then it counts for no procedure's triggers or outcomes.",
        field="data.procedure_ref",
    )


def _medication(data: MedicationData) -> list[EventWarning]:
    name = data.drug.strip().lower()
    if name not in KNOWN_DRUGS:
        guess = get_close_matches(name, sorted(KNOWN_DRUGS), n=1, cutoff=0.8)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        return [
            EventWarning(
                code="unknown-drug",
                message=f"{data.drug!r} is not in the registry's drug list ({FACTORS_VERSION}): "
                f"it is kept as sent, without an oral morphine equivalent.{hint}",
                field="data.drug",
            )
        ]
    if name in NON_OPIOIDS:
        return []
    ome = compute_ome(data.drug, data.route, data.dose, data.dose_unit, data.doses_per_day)
    if ome.ome_mg_day is not None or data.status != "active":
        return []
    field = "data.route" if "route" in (ome.reason or "") else "data.dose"
    return [
        EventWarning(
            code="no-ome",
            message=f"No oral morphine equivalent could be computed: {ome.reason}.",
            field=field,
        )
    ]


def _pain(data: PainData) -> list[EventWarning]:
    if data.site is PainSite.other:
        return [
            EventWarning(
                code="site-not-driving-triggers",
                message="Pain at site 'other' is recorded but does not drive the imaging "
                "triggers (back pain does; leg pain does for a procedure done for leg pain).",
                field="data.site",
            )
        ]
    return []


def event_warnings(ev: Incoming, awaiting: bool) -> list[EventWarning]:
    """The warnings of an accepted event; `awaiting`: its procedure has not arrived."""
    found = [_awaiting(ev)] if awaiting else []
    if isinstance(ev.data, MedicationData):
        found += _medication(ev.data)
    elif isinstance(ev.data, PainData):
        found += _pain(ev.data)
    return found
