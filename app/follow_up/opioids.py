"""Oral morphine equivalents (OME), clinical-rules.md section 4.

The factor table is versioned and the version is stored with every computed value. CDC warns
that these factors are for summing exposure, never for switching a patient between opioids.
"""

from dataclasses import dataclass

from app.clinical.enums import DoseUnit, Route

FACTORS_VERSION = "cdc-2022+nci-pdq/1"

# mg of oral morphine per mg of the oral opioid (CDC 2022)
ORAL_FACTORS: dict[str, float] = {
    "morphine": 1.0,
    "codeine": 0.15,
    "hydrocodone": 1.0,
    "hydromorphone": 5.0,
    "methadone": 4.7,
    "oxycodone": 1.5,
    "oxymorphone": 3.0,
    "tapentadol": 0.4,
    "tramadol": 0.2,
}
TRANSDERMAL_FENTANYL_PER_MCG_H = 2.4
# parenteral, chronic dosing (NCI PDQ): per mg of IV morphine, per mcg of IV fentanyl
IV_FACTORS: dict[str, tuple[float, DoseUnit]] = {
    "morphine": (3.0, DoseUnit.mg),
    "fentanyl": (0.3, DoseUnit.mcg),
}
OPIOIDS = frozenset(ORAL_FACTORS) | {"fentanyl"}
NON_OPIOIDS = frozenset(
    {"gabapentin", "ketamine", "acetaminophen", "ibuprofen", "clonazepam", "lorazepam"}
    | {"paracetamol"}  # acetaminophen's international non-proprietary name: the same drug
)
KNOWN_DRUGS = OPIOIDS | NON_OPIOIDS
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# RxNorm ingredient (TTY IN) codes, only those verified: the CPIC drug table
# (cpicpgx/cpic-schema, drug.sql, "RxNorm:<code> <name>"). Not verified, so not given:
# hydrocodone, hydromorphone, oxymorphone, tapentadol and the non-opioids.
RXNORM_INGREDIENTS: dict[str, str] = {
    "codeine": "2670",
    "fentanyl": "4337",
    "methadone": "6813",
    "morphine": "7052",
    "oxycodone": "7804",
    "tramadol": "10689",
}


def rxnorm_code(drug: str | None) -> str | None:
    """The drug's RxNorm ingredient code, where one is verified (else None)."""
    return RXNORM_INGREDIENTS.get(drug.strip().lower()) if drug else None


CONTINUOUS_UNITS = frozenset({DoseUnit.mg_per_h, DoseUnit.mcg_per_h})


@dataclass(frozen=True)
class OmeResult:
    is_opioid: bool | None
    ome_mg_day: float | None
    reason: str | None = None  # why no OME could be computed


def _daily_amount(dose: float, unit: DoseUnit, doses_per_day: float | None) -> tuple[float, str]:
    """Amount per day in mg or mcg (the unit's mass), for intermittent or continuous dosing."""
    if unit in CONTINUOUS_UNITS:
        return dose * 24, "mg" if unit is DoseUnit.mg_per_h else "mcg"
    return dose * (doses_per_day or 0), unit.value


def compute_ome(
    drug: str,
    route: Route | None,
    dose: float | None,
    unit: DoseUnit | None,
    doses_per_day: float | None,
) -> OmeResult:
    name = drug.strip().lower()
    if name in NON_OPIOIDS:
        return OmeResult(False, 0.0)
    if name not in OPIOIDS:
        return OmeResult(None, None, f"'{drug}' is not in the factor table {FACTORS_VERSION}")
    if dose is None or unit is None:
        return OmeResult(True, None, "dose or unit not recorded")
    if unit not in CONTINUOUS_UNITS and doses_per_day is None:
        return OmeResult(True, None, "doses_per_day not recorded")
    if name == "fentanyl" and route is Route.transdermal:
        if unit is not DoseUnit.mcg_per_h:
            return OmeResult(True, None, "transdermal fentanyl is dosed in mcg/h")
        return OmeResult(True, round(dose * TRANSDERMAL_FENTANYL_PER_MCG_H, 3))
    amount, mass = _daily_amount(dose, unit, doses_per_day)
    if route is Route.oral and name in ORAL_FACTORS:
        mg = amount if mass == "mg" else amount / 1000
        return OmeResult(True, round(mg * ORAL_FACTORS[name], 3))
    if route is Route.iv and name in IV_FACTORS:
        factor, factor_mass = IV_FACTORS[name]
        if mass != factor_mass.value:
            amount = amount * 1000 if factor_mass is DoseUnit.mcg else amount / 1000
        return OmeResult(True, round(amount * factor, 3))
    return OmeResult(True, None, f"no factor for {name} by the {route} route in {FACTORS_VERSION}")
