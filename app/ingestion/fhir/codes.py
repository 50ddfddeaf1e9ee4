"""The codes the FHIR door understands, from DOMAIN.md section 6 (verified codes only).

Anything else is refused as unknown, never mapped by guesswork. Where DOMAIN.md has no
verified code (sacral vertebrae; radiotherapy, surgery and radiofrequency ablation as
procedures) the resources carry `text` only, and only the registry's own names are accepted.
"""

from typing import Final

from app.clinical.enums import PainScale, ProcedureKind
from app.clinical.levels import LEVEL_REGION, SNOMED_VERTEBRA, Region

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
OBSERVATION_DISPLAY: dict[tuple[str, str], str] = {
    (LOINC, "72514-3"): "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    (LOINC, "38208-5"): "Pain severity - Reported",
    (LOINC, "57696-7"): "Pain severity FPS-R",
    (LOINC, "38221-8"): "Pain severity Wong-Baker FACES",
    (LOINC, "38215-0"): "FLACC total score",
    (LOINC, "97908-8"): "Oswestry Disability Index",
    (LOINC, "89243-0"): "Karnofsky Performance Status",
    (NCIT, "C38144"): "Lansky Performance Status",
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
PROCEDURE_CPT_DISPLAY: dict[str, str] = {
    "22510": "Percutaneous vertebroplasty, cervicothoracic",
    "22511": "Percutaneous vertebroplasty, lumbosacral",
    "22513": "Percutaneous vertebral augmentation, thoracic",
    "22514": "Percutaneous vertebral augmentation, lumbar",
    "20983": "Ablation therapy, bone tumour, cryoablation",
}
VERTEBRA_BY_SNOMED: dict[str, str] = {code: level for level, code in SNOMED_VERTEBRA.items()}


def cpt_for(kind: str, first_level: str | None) -> str | None:
    """The primary CPT code of a session, by kind and the region of its first level."""
    region = LEVEL_REGION.get(first_level) if first_level else None
    if kind == ProcedureKind.vertebroplasty and region is not None:
        return "22510" if region in (Region.cervical, Region.thoracic) else "22511"
    if kind == ProcedureKind.kyphoplasty:
        return {Region.thoracic: "22513", Region.lumbar: "22514"}.get(region)  # type: ignore[arg-type]
    if kind == ProcedureKind.cryoablation:
        return "20983"
    return None
