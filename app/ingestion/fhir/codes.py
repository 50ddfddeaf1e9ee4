"""The codes the FHIR door understands, from clinical-rules.md section 6 (verified codes only).

Anything else is refused as unknown, never mapped by guesswork. Where clinical-rules.md has no
verified code (sacral vertebrae; radiotherapy, surgery and radiofrequency ablation as
procedures) the resources carry `text` only, and only the registry's own names are accepted.
"""

from typing import Final

from app.clinical.enums import PainScale, ProcedureKind
from app.clinical.levels import LEVEL_POSITION, LEVEL_REGION, SNOMED_VERTEBRA, Region

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
CPT: Final = "http://www.ama-assn.org/go/cpt"
NCIT: Final = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
UCUM: Final = "http://unitsofmeasure.org"
URI_SYSTEM: Final = "urn:ietf:rfc:3986"  # an identifier that is a URI (e.g. a fullUrl)
FOLLOW_UP_SYSTEM: Final = "urn:vertebro:follow-up"
# Procedure extension, valueCode back | leg: the pain the procedure is done for (absent: back).
# No verified code exists for the two sites, so the registry's own names (app.clinical.enums
# .TargetPainSite) in an extension of its own, never a guessed SNOMED reasonCode.
TARGET_PAIN_SITE_EXTENSION: Final = "urn:vertebro:extension:target-pain-site"

# Observation.category of every score the door carries (pain scales, Lansky/Karnofsky, ODI are
# scored instruments): THO CodeSystem observation-category, code "survey" (display "Survey"), as
# mCODE STU4's Karnofsky Performance Status example uses it. Not vital-signs: the R4 vital
# signs profile has no pain score.
OBSERVATION_CATEGORY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
OBSERVATION_CATEGORY: Final = (OBSERVATION_CATEGORY_SYSTEM, "survey", "Survey")

# (system, code) -> (follow-up kind, scale); scale None: from the unit (38208-5)
OBSERVATION_CODES: dict[tuple[str, str], tuple[str, str | None]] = {
    (LOINC, "72514-3"): ("pain", PainScale.nrs11),
    (LOINC, "38208-5"): ("pain", None),
    (LOINC, "57696-7"): ("pain", PainScale.fps_r),
    (LOINC, "38221-8"): ("pain", PainScale.wong_baker),
    (LOINC, "38215-0"): ("pain", PainScale.flacc),
    (LOINC, "97908-8"): ("function", "odi"),
    (LOINC, "89243-0"): ("performance", "karnofsky"),
    (NCIT, "C38144"): ("performance", "lansky"),
}
# Displays, each from its source (checked for issue 19):
# - LOINC long common names: 72514-3, 38208-5 and 38221-8 as in a LOINC table extract
#   (LOINC_NUM, COMPONENT, LONG_COMMON_NAME); 57696-7 as HL7's MCC eCare Plan IG example shows
#   it; 38215-0 as an FSH profile binds it (LNC#38215-0 "Pain severity total [Score] FLACC");
#   97908-8 as a Questionnaire's LOINC code carries it; 89243-0 as mCODE STU4's Karnofsky
#   example shows it.
# - NCIt C38144: the display mCODE STU4's Lansky Play-Performance Status example shows.
OBSERVATION_DISPLAY: dict[tuple[str, str], str] = {
    (LOINC, "72514-3"): "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    (LOINC, "38208-5"): "Pain severity - Reported",
    (LOINC, "57696-7"): "Pain severity FPS-R",
    (LOINC, "38221-8"): "Pain severity Wong-Baker FACES pain rating scale",
    (LOINC, "38215-0"): "Pain severity total [Score] FLACC",
    (LOINC, "97908-8"): "Oswestry Disability Index",
    (LOINC, "89243-0"): "Karnofsky Performance Status score",
    (NCIT, "C38144"): "Lansky Play-Performance Status",
}
# the code each stored scale is exported with (VAS: 38208-5 with a value in mm)
SCALE_CODE: dict[str, tuple[str, str]] = {
    PainScale.nrs11: (LOINC, "72514-3"),
    PainScale.vas: (LOINC, "38208-5"),
    PainScale.fps_r: (LOINC, "57696-7"),
    PainScale.wong_baker: (LOINC, "38221-8"),
    PainScale.flacc: (LOINC, "38215-0"),
    "odi": (LOINC, "97908-8"),
    "karnofsky": (LOINC, "89243-0"),
    "lansky": (NCIT, "C38144"),
}

# CPT -> procedure kind; 22512 and 22515 are add-on codes (each additional level)
PROCEDURE_CPT: dict[str, ProcedureKind] = {
    "22510": ProcedureKind.vertebroplasty,
    "22511": ProcedureKind.vertebroplasty,
    "22512": ProcedureKind.vertebroplasty,
    "22513": ProcedureKind.kyphoplasty,
    "22514": ProcedureKind.kyphoplasty,
    "22515": ProcedureKind.kyphoplasty,
    "20983": ProcedureKind.cryoablation,
}
# The CPT descriptors as the CMS local coverage determination for vertebral augmentation lists
# them (22510-22515), and as the CPT descriptor of 20983 reads; CPT is the AMA's.
PROCEDURE_CPT_DISPLAY: dict[str, str] = {
    "22510": "Percutaneous vertebroplasty (bone biopsy included when performed), 1 vertebral "
    "body, unilateral or bilateral injection, inclusive of all imaging guidance; cervicothoracic",
    "22511": "Percutaneous vertebroplasty (bone biopsy included when performed), 1 vertebral "
    "body, unilateral or bilateral injection, inclusive of all imaging guidance; lumbosacral",
    "22512": "Percutaneous vertebroplasty (bone biopsy included when performed), 1 vertebral "
    "body, unilateral or bilateral injection, inclusive of all imaging guidance; each "
    "additional cervicothoracic or lumbosacral vertebral body (list separately in addition to "
    "code for primary procedure)",
    "22513": "Percutaneous vertebral augmentation, including cavity creation (fracture reduction "
    "and bone biopsy included when performed) using mechanical device (eg, kyphoplasty), 1 "
    "vertebral body, unilateral or bilateral cannulation, inclusive of all imaging guidance; "
    "thoracic",
    "22514": "Percutaneous vertebral augmentation, including cavity creation (fracture reduction "
    "and bone biopsy included when performed) using mechanical device (eg, kyphoplasty), 1 "
    "vertebral body, unilateral or bilateral cannulation, inclusive of all imaging guidance; "
    "lumbar",
    "22515": "Percutaneous vertebral augmentation, including cavity creation (fracture reduction "
    "and bone biopsy included when performed) using mechanical device (eg, kyphoplasty), 1 "
    "vertebral body, unilateral or bilateral cannulation, inclusive of all imaging guidance; "
    "each additional thoracic or lumbar vertebral body (list separately in addition to code "
    "for primary procedure)",
    "20983": "Ablation therapy for reduction or eradication of 1 or more bone tumors (eg, "
    "metastasis) including adjacent soft tissue when involved by tumor extension, "
    "percutaneous, including imaging guidance when performed; cryoablation",
}
VERTEBRA_BY_SNOMED: dict[str, str] = {code: level for level, code in SNOMED_VERTEBRA.items()}


# kind -> (region -> primary code, the add-on code, the regions the add-on covers)
_PER_LEVEL: dict[str, tuple[dict[Region, str], str, frozenset[Region]]] = {
    ProcedureKind.vertebroplasty: (
        {
            Region.cervical: "22510",
            Region.thoracic: "22510",
            Region.lumbar: "22511",
            Region.sacral: "22511",
        },
        "22512",
        frozenset(Region),
    ),
    ProcedureKind.kyphoplasty: (
        {Region.thoracic: "22513", Region.lumbar: "22514"},
        "22515",
        frozenset({Region.thoracic, Region.lumbar}),
    ),
}


def cpt_codes(kind: str, levels: list[str]) -> list[str]:
    """The CPT codes of a session: for vertebroplasty and kyphoplasty one primary code, by the
    region of the first level (craniocaudal order: the registry does not know which level was
    treated first) that a primary code covers, and one add-on code for each additional level
    the add-on covers (22512: any cervicothoracic or lumbosacral body; 22515: thoracic or
    lumbar only, so a cervical or sacral kyphoplasty level has no code); cryoablation 20983
    once (1 or more tumours). Others: none (no verified code)."""
    if kind == ProcedureKind.cryoablation:
        return ["20983"]
    if kind not in _PER_LEVEL:
        return []
    primary, add_on, covered = _PER_LEVEL[kind]
    ordered = sorted((lv for lv in levels if lv in LEVEL_REGION), key=lambda lv: LEVEL_POSITION[lv])
    first = next((lv for lv in ordered if LEVEL_REGION[lv] in primary), None)
    if first is None:
        return []
    others = [lv for lv in ordered if lv != first and LEVEL_REGION[lv] in covered]
    return [primary[LEVEL_REGION[first]]] + [add_on] * len(others)


# --- Condition, MedicationStatement, AdverseEvent (outbound only, $everything and $export) ----
# HL7 terminology CodeSystems bound by the R4 resources themselves (required or extensible
# bindings of Condition.clinicalStatus, .verificationStatus, .category, AdverseEvent.severity)
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
ADVERSE_EVENT_SEVERITY: Final = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
# No verified code system URI for ICCC-3 groups, nor for the SIR and CIRSE grades: the
# registry's own systems, with the grade's classification in the system's name
ICCC3_GROUP_SYSTEM: Final = "urn:vertebro:iccc3-group"
SIR_CLASSIC_SYSTEM: Final = "urn:vertebro:sir-classic-grade"
SIR_2017_SYSTEM: Final = "urn:vertebro:sir-2017-severity"
CIRSE_SYSTEM: Final = "urn:vertebro:cirse-grade"
COMPLICATION_KIND_SYSTEM: Final = "urn:vertebro:complication-kind"
# MedicationStatement extension, valueDecimal: the oral morphine equivalent (mg/day) the
# registry derived (clinical-rules.md section 4); derived on read, never taken on write
OME_EXTENSION: Final = "urn:vertebro:extension:ome-mg-day"
SYMPTOMATIC_EXTENSION: Final = "urn:vertebro:extension:symptomatic"
GRADE_EXTENSION: Final = "urn:vertebro:extension:complication-grade"  # valueCoding
# dose units as UCUM codes
DOSE_UCUM: Final = {"mg": "mg", "mcg": "ug", "mg/h": "mg/h", "mcg/h": "ug/h"}
