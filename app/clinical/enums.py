"""Controlled vocabularies of clinical-rules.md, stored in the database as strings.

Plain enums with no database import: the pure clinical rules and the ORM (its CHECK
constraints) use them alike."""

from enum import StrEnum


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class ProcedureKind(StrEnum):
    vertebroplasty = "vertebroplasty"
    kyphoplasty = "kyphoplasty"
    cryoablation = "cryoablation"
    radiofrequency_ablation = "radiofrequency_ablation"
    radiotherapy = "radiotherapy"
    surgery = "surgery"


AUGMENTATION_KINDS = frozenset({ProcedureKind.vertebroplasty, ProcedureKind.kyphoplasty})


class Indication(StrEnum):
    pain_palliation = "pain_palliation"
    local_tumour_control = "local_tumour_control"
    fracture_stabilisation = "fracture_stabilisation"


class Anesthesia(StrEnum):
    general = "general"
    conscious_sedation = "conscious_sedation"


class Guidance(StrEnum):
    biplanar_fluoroscopy = "biplanar_fluoroscopy"
    ct = "ct"
    ct_fluoroscopy = "ct_fluoroscopy"


class ImagingModality(StrEnum):
    ct = "ct"
    mri = "mri"
    pet_ct = "pet_ct"
    radiograph = "radiograph"
    bone_scan = "bone_scan"


class Approach(StrEnum):
    transpedicular = "transpedicular"
    costotransverse = "costotransverse"
    parapedicular = "parapedicular"
    posterolateral = "posterolateral"
    anterolateral = "anterolateral"


class Leakage(StrEnum):
    none = "none"
    basivertebral_vein = "basivertebral_vein"
    segmental_vein = "segmental_vein"
    cortical_paravertebral = "cortical_paravertebral"
    intradiscal = "intradiscal"
    epidural = "epidural"
    foraminal = "foraminal"


class ComplicationKind(StrEnum):
    cement_leakage = "cement_leakage"
    pulmonary_cement_embolism = "pulmonary_cement_embolism"
    radiating_pain = "radiating_pain"
    radiculopathy = "radiculopathy"
    radicular_neuritis = "radicular_neuritis"
    transient_chest_pain = "transient_chest_pain"
    hemothorax = "hemothorax"
    hematoma = "hematoma"
    motor_deficit = "motor_deficit"
    cauda_equina_syndrome = "cauda_equina_syndrome"
    paraplegia = "paraplegia"
    infection = "infection"
    pain_flare = "pain_flare"
    other = "other"


class SirClassic(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class Sir2017(StrEnum):
    mild = "mild"
    moderate = "moderate"
    severe = "severe"
    life_threatening = "life_threatening"
    death = "death"


class FollowUpKind(StrEnum):
    pain = "pain"
    medication = "medication"
    performance = "performance"
    function = "function"
    imaging = "imaging"
    progression = "progression"
    treatment = "treatment"
    death = "death"


class PainScale(StrEnum):
    nrs11 = "nrs11"
    vas = "vas"
    fps_r = "fps_r"
    flacc = "flacc"
    wong_baker = "wong_baker"


class PainSite(StrEnum):
    back = "back"
    leg = "leg"
    other = "other"


class TargetPainSite(StrEnum):
    """The pain a procedure is done for (clinical-rules.md section 3): back (axial) by default, leg
    (radicular) when the indication is radicular pain from the treated level. Its episode's
    baseline, rule A, day-14 decision, trajectory and outcome figures use scores of this site."""

    back = "back"
    leg = "leg"


class PerformanceScale(StrEnum):
    lansky = "lansky"
    karnofsky = "karnofsky"


class FunctionScale(StrEnum):
    odi = "odi"


class Route(StrEnum):
    oral = "oral"
    iv = "iv"
    subcutaneous = "subcutaneous"
    transdermal = "transdermal"
    other = "other"


class DoseUnit(StrEnum):
    mg = "mg"
    mcg = "mcg"
    mg_per_h = "mg/h"
    mcg_per_h = "mcg/h"


class MedicationStatus(StrEnum):
    active = "active"
    stopped = "stopped"


class TreatmentType(StrEnum):
    chemotherapy = "chemotherapy"
    radiotherapy = "radiotherapy"
    surgery = "surgery"
    immunotherapy = "immunotherapy"
    other = "other"


class HistologyGroup(StrEnum):
    """The 12 main diagnostic groups of the International Classification of Childhood Cancer,
    third edition (ICCC-3; Steliarova-Foucher et al., Cancer 2005;103(7):1457-67), by their
    numerals: I Leukaemias, myeloproliferative diseases, and myelodysplastic diseases;
    II Lymphomas and reticuloendothelial neoplasms; III CNS and miscellaneous intracranial and
    intraspinal neoplasms; IV Neuroblastoma and other peripheral nervous cell tumours;
    V Retinoblastoma; VI Renal tumours; VII Hepatic tumours; VIII Malignant bone tumours;
    IX Soft tissue and other extraosseous sarcomas; X Germ cell tumours, trophoblastic tumours,
    and neoplasms of gonads; XI Other malignant epithelial neoplasms and malignant melanomas;
    XII Other and unspecified malignant neoplasms."""

    leukaemias = "I"
    lymphomas = "II"
    cns = "III"
    neuroblastoma = "IV"
    retinoblastoma = "V"
    renal = "VI"
    hepatic = "VII"
    bone = "VIII"
    soft_tissue = "IX"
    germ_cell = "X"
    epithelial = "XI"
    other = "XII"


class TriggerRule(StrEnum):
    """The rule an imaging trigger fired by (clinical-rules.md section 4; app.triggers.rules)."""

    no_improvement = "no_improvement"  # rule A: no improvement by day 14
    follow_up_overdue = "follow_up_overdue"  # rule A: no score in the day-14 window
    worsening = "worsening"  # rule B: worsening after improvement


class TriggerStatus(StrEnum):
    """Where an imaging trigger stands (app.triggers.lifecycle: who may move it where)."""

    open = "open"
    acknowledged = "acknowledged"
    imaging_ordered = "imaging_ordered"
    resolved = "resolved"
    dismissed = "dismissed"
    superseded = "superseded"  # closed by the system: later data proved it wrong
    closed = "closed"  # closed by the system: the patient died (app.triggers.lifecycle)


def sql_values(vocabulary: type[StrEnum]) -> str:
    """A vocabulary's values as the list of a SQL `IN (...)`: 'a', 'b', ..."""
    return ", ".join(f"'{member.value}'" for member in vocabulary)
