"""HL7 v2 message -> the events of the JSON door (app.ingestion.schemas), each with where its
fields came from, so a refusal names the v2 field (PID^1^7), not the event's (data.birth_date).

The exactly-once key: source = the sending facility (MSH-4), event_id = the control id
(MSH-10), suffixed for a message that yields several events (`/death`, `/OBX1`, `/RXA1`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.hl7 import results
from app.hl7.reader import (
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    Message,
    Segment,
    parse_date,
    parse_datetime,
    refuse,
)

SUPPORTED: dict[str, frozenset[str]] = {
    "ADT": frozenset({"A01", "A03", "A04", "A08"}),
    "ORU": frozenset({"R01"}),
    "RDE": frozenset({"O11"}),
    "RAS": frozenset({"O17"}),
}
# HL7 table 0001 (administrative sex) -> the registry's sex
SEX = {"F": "female", "M": "male", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
PROCESSING_IDS = frozenset({"P", "T", "D"})
_ENVELOPE = {"source": "MSH^1^4", "event_id": "MSH^1^10"}


@dataclass(frozen=True)
class Header:
    source: str
    control_id: str
    message_type: str
    trigger: str
    sent_at: datetime | None
    sending_application: str
    sending_facility: str


@dataclass
class Planned:
    """One event to send through the pipeline, and where its fields came from."""

    body: dict[str, Any]
    segment: str  # the segment it comes from (ERL), for errors naming no field
    fields: dict[str, str] = field(default_factory=dict)  # event field -> ERL

    def location(self, event_field: str) -> str:
        if event_field in _ENVELOPE:
            return _ENVELOPE[event_field]
        if event_field in self.fields:
            return self.fields[event_field]
        head = event_field.split(".")[0]
        return self.fields.get(head, self.segment)


def header(msg: Message, zone: str) -> Header:
    msh = msg.msh
    facility = msh.get(4) or msh.get(4, 1, 2)
    if not facility:
        raise refuse("AR", "MSH^1^4", REQUIRED_FIELD_MISSING, "MSH-4 (sending facility) is empty.")
    control_id = msh.get(10)
    if not control_id:
        raise refuse("AR", "MSH^1^10", REQUIRED_FIELD_MISSING, "MSH-10 (control id) is empty.")
    kind, trigger = msh.get(9, 1, 1), msh.get(9, 1, 2)
    if kind not in SUPPORTED:
        accepted = ", ".join(f"{k}^{t}" for k in SUPPORTED for t in sorted(SUPPORTED[k]))
        raise refuse(
            "AR",
            "MSH^1^9^1^1",
            UNSUPPORTED_MESSAGE_TYPE,
            f"Message type {kind or '(empty)'} is not accepted; accepted: {accepted}.",
        )
    if trigger not in SUPPORTED[kind]:
        raise refuse(
            "AR",
            "MSH^1^9^1^2",
            UNSUPPORTED_EVENT_CODE,
            f"{kind}^{trigger or '(empty)'} is not accepted; {kind} with "
            + ", ".join(sorted(SUPPORTED[kind]))
            + ".",
        )
    processing = msh.get(11)
    if processing and processing not in PROCESSING_IDS:
        raise refuse(
            "AR", "MSH^1^11", UNSUPPORTED_PROCESSING_ID, f"Processing id {processing!r}: use P."
        )
    version = msh.get(12)
    if version and not version.startswith("2."):
        raise refuse("AR", "MSH^1^12", UNSUPPORTED_VERSION_ID, f"Version {version!r}: HL7 v2.x.")
    sent = msh.get(7)
    return Header(
        source=facility,
        control_id=control_id,
        message_type=kind,
        trigger=trigger,
        sent_at=parse_datetime(sent, "MSH^1^7", zone) if sent else None,
        sending_application=msh.get(3),
        sending_facility=facility,
    )


def identifier_system(pid: Segment, rep: int) -> str:
    """PID-3's assigning authority (HD) as an identifier system: its universal id as
    urn:oid: (type ISO) or as is (type URI, or already a URI), else urn:hl7v2:aa:<namespace>."""
    namespace, universal, kind = (pid.get(3, rep, 4, n) for n in (1, 2, 3))
    if universal and kind.upper() == "ISO":
        return f"urn:oid:{universal}"
    if universal:
        return universal
    if ":" in namespace:
        return namespace
    if namespace:
        return f"urn:hl7v2:aa:{namespace}"
    raise refuse(
        "AE",
        pid.where(3, rep, 4),
        REQUIRED_FIELD_MISSING,
        "PID-3.4 (assigning authority) is empty: it names the identifier's system.",
    )


def patient_identity(msg: Message) -> tuple[dict[str, str], list[dict[str, str]], Segment]:
    """The envelope's patient (PID-3: the repetition of type MR, else the first) and the other
    repetitions."""
    pid = msg.require("PID")
    ids: list[tuple[dict[str, str], str]] = []
    for rep in range(1, pid.repetitions(3) + 1):
        value = pid.get(3, rep, 1)
        if value:
            ids.append(
                ({"system": identifier_system(pid, rep), "value": value}, pid.get(3, rep, 5))
            )
    if not ids:
        raise refuse(
            "AE", "PID^1^3", REQUIRED_FIELD_MISSING, "PID-3 (patient identifier) is empty."
        )
    main = next((i for i, kind in ids if kind.upper() == "MR"), ids[0][0])
    others = [i for i, _ in ids if i != main]
    return main, others, pid


def _envelope(
    head: Header, event_id: str, type_: str, at: datetime, patient: dict[str, str]
) -> dict[str, Any]:
    return {
        "source": head.source,
        "event_id": event_id,
        "type": type_,
        "occurred_at": at.isoformat(),
        "patient": patient,
    }


def _adt(msg: Message, head: Header, zone: str) -> list[Planned]:
    patient, others, pid = patient_identity(msg)
    evn = msg.first("EVN")
    at_where, at_value = "MSH^1^7", msg.msh.get(7)
    for evn_field in (6, 2):
        if evn is not None and evn.get(evn_field):
            at_where, at_value = evn.where(evn_field), evn.get(evn_field)
            break
    if not at_value:
        raise refuse("AE", "MSH^1^7", REQUIRED_FIELD_MISSING, "MSH-7 (message date/time) is empty.")
    at = parse_datetime(at_value, at_where, zone)
    planned: list[Planned] = []
    if head.trigger != "A03":
        data: dict[str, Any] = {}
        if others:
            data["identifiers"] = others
        if pid.get(7):
            data["birth_date"] = parse_date(pid.get(7), pid.where(7)).isoformat()
        sex = pid.get(8).upper()
        if sex:
            if sex not in SEX:
                raise refuse(
                    "AE",
                    pid.where(8),
                    TABLE_VALUE_NOT_FOUND,
                    f"PID-8 {sex!r} is not in HL7 table 0001 (F, M, O, A, U, N).",
                )
            data["sex"] = SEX[sex]
        body = _envelope(head, head.control_id, "patient.registered", at, patient)
        body["data"] = data
        fields = {
            "occurred_at": at_where,
            "patient": "PID^1^3",
            "data.birth_date": pid.where(7),
            "data.sex": pid.where(8),
            "data.identifiers": pid.where(3),
        }
        planned.append(Planned(body, "PID^1", fields))
    death = _death(pid, head, patient, zone)
    if death is not None:
        planned.append(death)
    return planned


def _death(pid: Segment, head: Header, patient: dict[str, str], zone: str) -> Planned | None:
    """PID-29 (death date/time) or PID-30 = Y: patient.deceased at PID-29."""
    indicator, when = pid.get(30).upper(), pid.get(29)
    if indicator not in ("", "Y", "N"):
        raise refuse("AE", pid.where(30), TABLE_VALUE_NOT_FOUND, "PID-30 is Y or N (table 0136).")
    if indicator == "N" or (not when and indicator != "Y"):
        return None
    if not when:
        raise refuse(
            "AE",
            pid.where(29),
            REQUIRED_FIELD_MISSING,
            "PID-30 is Y: PID-29 (death date) is needed.",
        )
    at = parse_datetime(when, pid.where(29), zone)
    body = _envelope(head, f"{head.control_id}/death", "patient.deceased", at, patient)
    body["data"] = {}
    return Planned(body, "PID^1", {"occurred_at": pid.where(29), "patient": "PID^1^3"})


def plan(msg: Message, head: Header, zone: str) -> list[Planned]:
    """The events a message carries (in order), or V2Error."""
    if head.message_type == "ADT":
        return _adt(msg, head, zone)
    patient, _others, _pid = patient_identity(msg)
    if head.message_type == "ORU":
        found = results.observations(msg, zone)
    else:
        found = results.medications(msg, zone)
    planned: list[Planned] = []
    for item in found:
        body = _envelope(head, f"{head.control_id}/{item.key}", item.type, item.at, patient)
        body["data"] = item.data
        planned.append(Planned(body, item.segment, {"patient": "PID^1^3", **item.fields}))
    if not planned and head.message_type == "ORU":
        raise refuse("AE", "OBX^1", REQUIRED_FIELD_MISSING, "The message has no OBX to record.")
    return planned
