"""Pain scales and their normalisation to 0-10 (clinical-rules.md section 3)."""

from app.clinical.enums import PainScale
from app.errors import RuleViolation

_EVEN_STEPS = frozenset({0, 2, 4, 6, 8, 10})


def normalise_pain(scale: PainScale, value: float, field: str = "value") -> float:
    """The 0-10 score for a value given on `scale`; raise when the value is not on the scale."""
    if scale is PainScale.vas:
        if not 0 <= value <= 100:
            raise RuleViolation(field, f"VAS is 0-100 mm; got {value:g}.", "score-out-of-range")
        return round(value / 10, 2)
    if not float(value).is_integer():
        raise RuleViolation(field, f"{scale} takes whole numbers; got {value:g}.", "score-step")
    if not 0 <= value <= 10:
        raise RuleViolation(field, f"{scale} is 0-10; got {value:g}.", "score-out-of-range")
    if scale in (PainScale.fps_r, PainScale.wong_baker) and int(value) not in _EVEN_STEPS:
        raise RuleViolation(
            field, f"{scale} takes 0, 2, 4, 6, 8 or 10; got {value:g}.", "score-step"
        )
    return float(value)


def check_step_of_ten(value: float, field: str, scale: str) -> float:
    """Lansky and Karnofsky: 0-100 in steps of 10."""
    if not 0 <= value <= 100 or not float(value).is_integer() or int(value) % 10:
        raise RuleViolation(field, f"{scale} is 0-100 in steps of 10; got {value:g}.", "score-step")
    return float(value)
