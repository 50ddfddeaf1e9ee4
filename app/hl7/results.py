"""ORU^R01 observations (OBX) and RDE^O11 / RAS^O17 medications (RXE/RXA with RXR) as events.

Codes from clinical-rules.md section 6 only (app.ingestion.fhir.codes.OBSERVATION_CODES, the same
table as the FHIR door): LOINC scores, and NCIt C38144 for Lansky (no LOINC code, as mCODE does).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.clinical.enums import PainScale
from app.hl7.reader import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Message,
    Segment,
    parse_datetime,
    refuse,
)
from app.ingestion.fhir.codes import LOINC, NCIT, OBSERVATION_CODES

# coding system names (HL7 table 0396 and the FHIR URIs) -> the FHIR door's system
SYSTEMS = {"LN": LOINC, "LOINC": LOINC, LOINC: LOINC, "NCIT": NCIT, "NCI": NCIT, NCIT: NCIT}
EVENT_TYPE = {
    "pain": "pain.scored",
    "performance": "performance.scored",
    "function": "function.scored",
}
# HL7 table 0162 (route of administration) -> the registry's routes; others: "other"
ROUTES = {"PO": "oral", "IV": "iv", "SC": "subcutaneous", "TD": "transdermal"}
# UCUM and common v2 units -> the registry's dose units
UNITS = {"mg": "mg", "mcg": "mcg", "ug": "mcg", "mg/h": "mg/h", "mcg/h": "mcg/h", "ug/h": "mcg/h"}
# HL7 table 0335 (repeat pattern) -> doses per day
FREQUENCY = {"QD": 1.0, "DAILY": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0}
_EVERY_N_HOURS = re.compile(r"^Q(\d{1,2})H$")


@dataclass
class Found:
    key: str  # the event id's suffix after MSH-10
    type: str
    at: datetime
    data: dict[str, Any]
    segment: str
    fields: dict[str, str] = field(default_factory=dict)


def _code(obx: Segment) -> tuple[str, str]:
    """OBX-3: the identifier or its alternate (components 4-6) in a known system."""
    for first in (1, 4):
        code, system = obx.get(3, 1, first), obx.get(3, 1, first + 2)
        known = SYSTEMS.get(system) or SYSTEMS.get(system.upper())
        if code and known:
            if (known, code) not in OBSERVATION_CODES:
                raise refuse(
                    "AE",
                    obx.where(3, 1, first),
                    TABLE_VALUE_NOT_FOUND,
                    f"OBX-3 code {code!r} ({system}) is not a score the registry records "
                    "(LOINC 72514-3, 38208-5, 57696-7, 38221-8, 38215-0, 97908-8, 89243-0; "
                    "NCIt C38144 for Lansky).",
                )
            return known, code
    system = obx.get(3, 1, 3)
    if not obx.get(3, 1, 1):
        raise refuse(
            "AE", obx.where(3), REQUIRED_FIELD_MISSING, "OBX-3 (observation code) is empty."
        )
    raise refuse(
        "AE",
        obx.where(3, 1, 3),
        TABLE_VALUE_NOT_FOUND,
        f"OBX-3 coding system {system or '(empty)'!r} is not accepted: use LN (LOINC), or NCIT "
        "for Lansky.",
    )


def _number(seg: Segment, field_no: int, what: str) -> float:
    text = (
        seg.get(field_no, 1, 2) if seg.name == "OBX" and seg.get(2) == "SN" else seg.get(field_no)
    )
    if not text:
        raise refuse("AE", seg.where(field_no), REQUIRED_FIELD_MISSING, f"{what} is empty.")
    try:
        return float(text)
    except ValueError:
        raise refuse(
            "AE", seg.where(field_no), DATA_TYPE_ERROR, f"{what} {text!r} is not a number."
        ) from None


def _plain(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def _site(obx: Segment) -> str | None:
    """OBX-20 (body site), if given: back, leg, or other."""
    text = " ".join((obx.get(20, 1, 1), obx.get(20, 1, 2))).lower()
    if not text.strip():
        return None
    if "leg" in text:
        return "leg"
    return "back" if "back" in text else "other"


def _moment(
    candidates: list[tuple[Segment | None, int]], msg: Message, zone: str
) -> tuple[datetime, str]:
    for seg, field_no in [*candidates, (msg.msh, 7)]:
        if seg is not None and seg.get(field_no):
            where = seg.where(field_no)
            return parse_datetime(seg.get(field_no), where, zone), where
    raise refuse("AE", "MSH^1^7", REQUIRED_FIELD_MISSING, "No date/time: OBX-14 or MSH-7.")


def observations(msg: Message, zone: str) -> list[Found]:
    found: list[Found] = []
    obr: Segment | None = None
    set_ids = [s.get(1) for s in msg.all("OBX")]
    for seg in msg.segments:
        if seg.name == "OBR":
            obr = seg
        if seg.name != "OBX":
            continue
        status = seg.get(11).upper()
        if status == "X":  # no result could be obtained
            continue
        if status in ("D", "W"):
            raise refuse(
                "AE",
                seg.where(11),
                TABLE_VALUE_NOT_FOUND,
                "OBX-11 D/W (delete, wrong patient): retract the event through /events "
                "(event.retracted) instead.",
            )
        system, code = _code(seg)
        kind, scale = OBSERVATION_CODES[(system, code)]
        value = _number(seg, 5, "OBX-5 (the score)")
        if kind == "pain" and scale is None:  # 38208-5: VAS in mm, else 0-10
            scale = PainScale.vas if seg.get(6).lower() == "mm" else PainScale.nrs11
        data: dict[str, Any] = {"scale": str(scale), "value": _plain(value)}
        at, at_where = _moment([(seg, 14), (obr, 7)], msg, zone)
        fields = {"occurred_at": at_where, "data.value": seg.where(5), "data.scale": seg.where(3)}
        if kind == "pain":
            site = _site(seg)
            if site is not None:
                data["site"] = site
                fields["data.site"] = seg.where(20)
        if obr is not None and obr.get(29):
            data["procedure_ref"] = obr.get(29)
            fields["data.procedure_ref"] = obr.where(29)
        _with_note(msg, seg, data, fields)
        unique = set_ids.count(seg.get(1)) == 1 and seg.get(1)
        key = seg.get(1) if unique else f"OBX{seg.sequence}"
        found.append(Found(key, EVENT_TYPE[kind], at, data, f"OBX^{seg.sequence}", fields))
    return found


def _note(msg: Message, seg: Segment) -> str | None:
    """NTE-3 of the NTE segments right after `seg`, one line each."""
    at = msg.segments.index(seg) + 1
    lines: list[str] = []
    while at < len(msg.segments) and msg.segments[at].name == "NTE":
        lines += [
            msg.segments[at].get(3, rep) for rep in range(1, msg.segments[at].repetitions(3) + 1)
        ]
        at += 1
    text = "\n".join(line for line in lines if line)
    return text or None


def _with_note(msg: Message, seg: Segment, data: dict[str, Any], fields: dict[str, str]) -> None:
    note = _note(msg, seg)
    if note is not None:
        data["note"] = note
        fields["data.note"] = f"NTE^{msg.segments[msg.segments.index(seg) + 1].sequence}^3"


def _per_day(pattern: str) -> float | None:
    pattern = pattern.upper()
    match = _EVERY_N_HOURS.match(pattern)
    if match and int(match[1]) > 0:
        return round(24 / int(match[1]), 3)
    return FREQUENCY.get(pattern)


def _dose(
    data: dict[str, Any], fields: dict[str, str], seg: Segment, amount: int, unit: int
) -> None:
    if seg.get(amount):
        data["dose"] = _plain(_number(seg, amount, f"{seg.name}-{amount} (amount)"))
        fields["data.dose"] = seg.where(amount)
    code = seg.get(unit)
    if code:
        if code.lower() not in UNITS:
            raise refuse(
                "AE",
                seg.where(unit),
                TABLE_VALUE_NOT_FOUND,
                f"Dose unit {code!r}: use mg, mcg, mg/h or mcg/h.",
            )
        data["dose_unit"] = UNITS[code.lower()]
        fields["data.dose_unit"] = seg.where(unit)


def _route(data: dict[str, Any], fields: dict[str, str], rxr: Segment | None) -> None:
    if rxr is not None and rxr.get(1):
        data["route"] = ROUTES.get(rxr.get(1).upper(), "other")
        fields["data.route"] = rxr.where(1)


def medications(msg: Message, zone: str) -> list[Found]:
    """RXA (administrations: RAS^O17) or RXE (orders: RDE^O11), each with the RXR after it."""
    found: list[Found] = []
    orc: Segment | None = None
    tq1: Segment | None = None
    segments = msg.segments
    for i, seg in enumerate(segments):
        if seg.name == "ORC":
            orc, tq1 = seg, None
        if seg.name == "TQ1":
            tq1 = seg
        if seg.name not in ("RXA", "RXE"):
            continue
        rxr = next((s for s in segments[i + 1 :] if s.name in ("RXR", "RXA", "RXE")), None)
        rxr = rxr if rxr is not None and rxr.name == "RXR" else None
        code_field = 5 if seg.name == "RXA" else 2
        drug = seg.get(code_field, 1, 2) or seg.get(code_field, 1, 1)
        if not drug:
            raise refuse("AE", seg.where(code_field), REQUIRED_FIELD_MISSING, "The drug is empty.")
        data: dict[str, Any] = {"drug": drug}
        fields = {"data.drug": seg.where(code_field)}
        if seg.name == "RXA":
            if seg.get(20).upper() in ("RE", "NA"):  # refused, not administered
                continue
            _dose(data, fields, seg, 6, 7)
            at, at_where = _moment([(seg, 3)], msg, zone)
        else:
            _dose(data, fields, seg, 3, 5)
            pattern = (tq1.get(3) if tq1 is not None else "") or seg.get(1, 1, 2)
            if pattern and _per_day(pattern) is not None:
                data["doses_per_day"] = _per_day(pattern)
            at, at_where = _moment([(tq1, 7), (orc, 9)], msg, zone)
            if orc is not None and orc.get(1).upper() in ("DC", "OD"):
                data["status"] = "stopped"
        fields["occurred_at"] = at_where
        if orc is not None and orc.get(8):  # the parent order: the procedure it follows
            data["procedure_ref"] = orc.get(8)
            fields["data.procedure_ref"] = orc.where(8)
        _with_note(msg, seg, data, fields)
        _route(data, fields, rxr)
        found.append(
            Found(
                f"{seg.name}{seg.sequence}",
                "medication.recorded",
                at,
                data,
                f"{seg.name}^{seg.sequence}",
                fields,
            )
        )
    if not found:
        raise refuse(
            "AE", "RXA^1", REQUIRED_FIELD_MISSING, "The message has no RXA or RXE to record."
        )
    return found
