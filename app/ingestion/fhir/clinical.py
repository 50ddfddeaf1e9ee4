"""The rest of a case in FHIR R4, outbound (`$everything`, `$export`): the tumour diagnosis as
a Condition, each medication record as a MedicationStatement, each complication as an
AdverseEvent. Codes only where verified (app.ingestion.fhir.codes); the registry's own code
systems elsewhere. Not taken back by the door's writes yet (docs/fhir.md)."""

import uuid
from typing import Any

from app.follow_up.opioids import RXNORM_SYSTEM, rxnorm_code
from app.ingestion.fhir.codes import (
    ADVERSE_EVENT_SEVERITY,
    CIRSE_SYSTEM,
    COMPLICATION_KIND_SYSTEM,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DOSE_UCUM,
    GRADE_EXTENSION,
    ICCC3_GROUP_SYSTEM,
    OME_EXTENSION,
    SIR_2017_SYSTEM,
    SIR_CLASSIC_SYSTEM,
    SYMPTOMATIC_EXTENSION,
    UCUM,
)
from app.models import Complication, FollowUpEvent, Patient

# SIR 2017 severities that the R4 AdverseEvent severity value set names alike
SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe"}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    return {**coding, "display": display} if display else coding


def condition_id(patient_id: uuid.UUID) -> str:
    return f"dx-{patient_id}"


def render_condition(patient: Patient, subject: dict[str, Any]) -> dict[str, Any] | None:
    """The tumour diagnosis, when any of it is recorded."""
    if not (patient.histology or patient.histology_group or patient.primary_site):
        return None
    status = "relapse" if patient.relapsed_refractory else "active"
    code: dict[str, Any] = {"text": patient.histology or "tumour (histology not recorded)"}
    if patient.histology_group:
        code["coding"] = [_coding(ICCC3_GROUP_SYSTEM, patient.histology_group)]
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": condition_id(patient.id),
        "clinicalStatus": {"coding": [_coding(CONDITION_CLINICAL, status)]},
        "verificationStatus": {"coding": [_coding(CONDITION_VERIFICATION, "confirmed")]},
        "category": [
            {"coding": [_coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")]}
        ],
        "code": code,
        "subject": subject,
    }
    if patient.primary_site:
        resource["bodySite"] = [{"text": patient.primary_site}]
    if patient.diagnosis_date:
        resource["onsetDateTime"] = patient.diagnosis_date.isoformat()
    return resource


def render_medication_statement(event: FollowUpEvent, subject: dict[str, Any]) -> dict[str, Any]:
    drug = event.drug or "not recorded"
    medication: dict[str, Any] = {"text": drug}
    if code := rxnorm_code(event.drug):
        medication["coding"] = [_coding(RXNORM_SYSTEM, code, drug)]
    dosage: dict[str, Any] = {}
    if event.route:
        dosage["route"] = {"text": event.route}
    if event.dose is not None and event.dose_unit:
        unit = DOSE_UCUM.get(event.dose_unit, event.dose_unit)
        dosage["doseAndRate"] = [
            {"doseQuantity": {"value": event.dose, "unit": event.dose_unit, "system": UCUM,
                              "code": unit}}
        ]  # fmt: skip
    if event.doses_per_day:
        dosage["timing"] = {
            "repeat": {"frequency": round(event.doses_per_day), "period": 1, "periodUnit": "d"}
        }
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": str(event.id),
        "status": "stopped" if event.medication_status == "stopped" else "active",
        "medicationCodeableConcept": medication,
        "subject": subject,
        "effectiveDateTime": event.occurred_at.isoformat(),
    }
    if dosage:
        resource["dosage"] = [dosage]
    if event.ome_mg_day is not None:
        resource["extension"] = [{"url": OME_EXTENSION, "valueDecimal": event.ome_mg_day}]
    if event.note:
        resource["note"] = [{"text": event.note}]
    return resource


def render_adverse_event(
    complication: Complication, subject: dict[str, Any], performed_at: Any
) -> dict[str, Any]:
    grades = []
    if complication.sir_classic:
        grades.append(_coding(SIR_CLASSIC_SYSTEM, complication.sir_classic))
    if complication.sir_2017:
        grades.append(_coding(SIR_2017_SYSTEM, complication.sir_2017))
    if complication.cirse_grade is not None:
        system = CIRSE_SYSTEM + (
            f":{complication.cirse_version}" if complication.cirse_version else ""
        )
        grades.append(_coding(system, str(complication.cirse_grade)))
    when = complication.onset_at or performed_at
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": str(complication.id),
        "actuality": "actual",
        "event": {
            "coding": [_coding(COMPLICATION_KIND_SYSTEM, complication.kind)],
            "text": complication.description or complication.kind,
        },
        "subject": subject,
        "date": when.isoformat(),
        "suspectEntity": [{"instance": {"reference": f"Procedure/{complication.procedure_id}"}}],
        "extension": [{"url": SYMPTOMATIC_EXTENSION, "valueBoolean": complication.symptomatic}],
    }
    if complication.sir_2017 in SEVERITY:
        code = SEVERITY[complication.sir_2017]
        resource["severity"] = {"coding": [_coding(ADVERSE_EVENT_SEVERITY, code)]}
    # each grade in its classification's own system (SIR classic A-F, SIR 2017, CIRSE with its
    # version): R4 AdverseEvent has no element for an interventional-radiology grade
    resource["extension"] += [{"url": GRADE_EXTENSION, "valueCoding": grade} for grade in grades]
    return resource
