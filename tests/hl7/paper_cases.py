"""The paper's three cases (seed/) as the JSON door's events, and as HL7 v2 messages for the
facts v2 carries naturally (registration, pain and performance scores, medications, death);
the rest (diagnosis and histology, procedures, complications, treatments, imaging,
progression) has no natural v2 form here and goes through the JSON door on both paths."""

from typing import Any

from app.hl7.ack import escape
from app.seeding import read_cases
from tests.hl7.helpers import MRN_AUTHORITY, msh

V2_KINDS = frozenset({"pain", "performance", "medication", "death"})
LOINC_OF = {
    "nrs11": ("72514-3", "LN"),
    "lansky": ("C38144", "NCIT"),
    "karnofsky": ("89243-0", "LN"),
}
ROUTE_CODE = {"oral": "PO", "iv": "IV", "subcutaneous": "SC", "transdermal": "TD"}
EVERY = {1: "QD", 2: "Q12H", 3: "Q8H", 4: "Q6H", 6: "Q4H"}


def cases() -> list[dict[str, Any]]:
    return read_cases()


def _dtm(iso: str) -> str:
    """2019-01-15T09:00:00Z -> 20190115090000+0000"""
    return iso.replace("-", "").replace(":", "").replace("T", "").replace("Z", "") + "+0000"


def _event(
    source: str, mrn: str, event_id: str, type_: str, at: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "source": source,
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "patient": {"system": "urn:test:mrn", "value": mrn},
        "data": data,
    }


def json_events(case: dict[str, Any], source: str, mrn: str, *, v2: bool) -> list[dict[str, Any]]:
    """The case as JSON events; with `v2`, without the facts the v2 messages carry."""
    patient = dict(case["patient"])
    if v2:
        patient.pop("birth_date", None)
        patient.pop("sex", None)
    events = [_event(source, mrn, "reg", "patient.registered", "2020-01-01T00:00:00Z", patient)]
    for p in case["procedures"]:
        data = {
            k: v
            for k, v in p.items()
            if k not in {"ref", "series_ref", "stage_number", "performed_at", "complications"}
        }
        data["procedure_ref"] = p["ref"]
        events.append(
            _event(source, mrn, f"proc-{p['ref']}", "procedure.performed", p["performed_at"], data)
        )
        for n, c in enumerate(p.get("complications", [])):
            comp = {**c, "procedure_ref": p["ref"]}
            events.append(
                _event(
                    source,
                    mrn,
                    f"comp-{p['ref']}-{n}",
                    "complication.reported",
                    p["performed_at"],
                    comp,
                )
            )
    for n, f in enumerate(case["follow_ups"]):
        kind, at = f["kind"], f["occurred_at"]
        data = {k: v for k, v in f.items() if k not in {"kind", "occurred_at"}}
        if v2 and kind in V2_KINDS:
            continue
        if kind == "treatment":
            data = {
                "intervention": data.pop("treatment_type"),
                "description": data.pop("finding", None),
            }
            events.append(_event(source, mrn, f"fu-{n}", "intervention.recorded", at, data))
            continue
        type_ = {
            "pain": "pain.scored",
            "performance": "performance.scored",
            "medication": "medication.recorded",
            "imaging": "imaging.performed",
            "progression": "progression.recorded",
            "death": "patient.deceased",
        }[kind]
        events.append(_event(source, mrn, f"fu-{n}", type_, at, data))
    return events


def _nte(note: str | None) -> list[str]:
    return [f"NTE|1||{escape(note)}"] if note else []


def v2_messages(case: dict[str, Any], facility: str, mrn: str) -> list[str]:
    """Registration (ADT^A04), each score (ORU^R01), each medication (RDE^O11), the death
    (ADT^A08 with PID-29/30; its note has no place in an ADT and is left out)."""
    p = case["patient"]
    birth, sex = p["birth_date"].replace("-", ""), p["sex"][0].upper()
    pid = f"PID|1||{mrn}^^^{MRN_AUTHORITY}^MR||Case^Paper||{birth}|{sex}"
    messages = [
        "\r".join(
            [
                msh("ADT^A04^ADT_A01", f"{mrn}-A04", facility=facility),
                "EVN|A04|20200101000000+0000",
                pid,
            ]
        )
    ]
    for n, f in enumerate(case["follow_ups"]):
        kind, at = f["kind"], _dtm(f["occurred_at"])
        control = f"{mrn}-{n}"
        parent = f.get("procedure_ref", "")
        if kind in ("pain", "performance"):
            code, system = LOINC_OF[f["scale"]]
            site = f"||||||{f['site']}" if kind == "pain" else ""
            obx = f"OBX|1|NM|{code}^^{system}||{f['value']}||||||F|||{at}{site}"
            obr = f"OBR|1|||{code}^^{system}|||{at}" + "|" * 22 + parent
            messages.append(
                "\r".join(
                    [
                        msh("ORU^R01^ORU_R01", control, facility=facility),
                        pid,
                        obr,
                        obx,
                        *_nte(f.get("note")),
                    ]
                )
            )
        elif kind == "medication":
            order = "DC" if f.get("status") == "stopped" else "NW"
            orc = f"ORC|{order}|{control}||||||{parent}|{at}"
            tq1 = f"TQ1|1||{EVERY[int(f['doses_per_day'])]}" if f.get("doses_per_day") else None
            dose = f"{f['dose']}||{f['dose_unit']}" if f.get("dose") else "||"
            rxe = f"RXE||^{f['drug']}^L|{dose}"
            rxr = f"RXR|{ROUTE_CODE[f['route']]}" if f.get("route") else None
            segments = [msh("RDE^O11^RDE_O11", control, facility=facility), pid, orc]
            segments += [s for s in (tq1, rxe) if s] + _nte(f.get("note")) + ([rxr] if rxr else [])
            messages.append("\r".join(segments))
        elif kind == "death":
            dead = pid + "|" * 21 + f"{at}|Y"
            messages.append("\r".join([msh("ADT^A08^ADT_A01", control, facility=facility), dead]))
    return messages
