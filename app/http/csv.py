"""CSV answers: one tidy table per route (a row per item, a column per documented field), for
`Accept: text/csv` or `?format=csv` (the query wins: a browser link can ask for it).

A route declares its columns (`Column`: name, meaning, unit, how to read it from an item);
the same declaration documents the table in OpenAPI (`csv_responses`) and renders it
(`csv_response`, the stdlib `csv` module). Cells: numbers as Python prints them, times in ISO
8601 (UTC), booleans `true`/`false`, lists joined by `;`, missing values empty. A text cell
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) is prefixed with `'` (OWASP's CSV injection advice); numbers never are.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a route's `format` query parameter
CsvFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(description="`csv` for a CSV table (as `Accept: text/csv`); default JSON."),
]


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    unit: str | None = None
    get: Callable[[Any], Any] | None = None  # default: the item's attribute or key `name`

    def value(self, item: Any) -> Any:
        if self.get is not None:
            return self.get(item)
        if isinstance(item, dict):
            return item.get(self.name)
        return getattr(item, self.name, None)


def model_columns(
    model: type[BaseModel],
    *,
    units: dict[str, str] | None = None,
    descriptions: dict[str, str] | None = None,
) -> tuple[Column, ...]:
    """A column per field of a flat response model, described by its `Field(description=...)`
    unless `descriptions` says better, with the units given."""
    units, descriptions = units or {}, descriptions or {}
    return tuple(
        Column(
            name,
            descriptions.get(name) or field.description or name.replace("_", " ").capitalize(),
            units.get(name),
        )
        for name, field in model.model_fields.items()
    )


def wants_csv(request: Request, format: str | None) -> bool:
    """`?format=csv`, or an Accept header that names text/csv before (or without) JSON."""
    if format is not None:
        return format.lower() == "csv"
    accept = request.headers.get("accept", "").lower()
    if CSV_MEDIA_TYPE not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find(CSV_MEDIA_TYPE) < json_at


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(cell(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def render(columns: Sequence[Column], items: Iterable[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow([c.name for c in columns])
    for item in items:
        writer.writerow([cell(c.value(item)) for c in columns])
    return out.getvalue()


def csv_response(
    columns: Sequence[Column],
    items: Iterable[Any],
    filename: str,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        render(columns, items),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8; header=present",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})},
    )


def describe(columns: Sequence[Column]) -> str:
    """The columns as a Markdown list (OpenAPI and docs)."""
    return "\n".join(
        f"- `{c.name}`: {c.description}" + (f" ({c.unit})" if c.unit else "") for c in columns
    )


def csv_responses(columns: Sequence[Column], what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a route's CSV answer."""
    return {
        200: {
            "description": f"{what}. With `Accept: text/csv` or `?format=csv`: a CSV table "
            "(RFC 4180, UTF-8, a header row), one row per item, columns:\n\n" + describe(columns),
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    }


# --- nested figures as a long table (the statistics) ---------------------------------------

# a list item is named by the first of these it has (e.g. `pain.time_points.14.score`)
ITEM_KEYS = ("day", "start_day", "group")
STAT_KEYS = (
    "value", "n", "denominator", "proportion", "mean", "sd", "median", "q1", "q3", "lower",
    "upper", "at_risk", "survival", "suppressed",
)  # fmt: skip
# the unit of a figure's mean, sd, median, quartiles and value, by a part of its path
UNITS = (
    ("ome_mg_kg_day", "OME mg/kg/day"),
    ("ome_mg_day", "OME mg/day"),
    ("performance", "Lansky/Karnofsky 0-100"),
    ("function_odi", "ODI 0-100"),
    ("days", "days"),
    ("pain", "pain score 0-10"),
    ("trajectory", "pain score 0-10"),
)
FIGURE_COLUMNS = (
    Column("figure", "The figure's path in the JSON answer (list items by day or group)."),
    Column(
        "unit",
        "The unit of value, mean, sd, median, q1, q3 (counts: none; proportion, survival and "
        "their lower/upper bounds are fractions 0-1).",
    ),
    *(Column(k, f"As `{k}` in the JSON answer.") for k in STAT_KEYS),
)


def _unit(path: str, row: dict[str, Any]) -> str | None:
    if "mean" not in row and "median" not in row and not isinstance(row.get("value"), float):
        return None
    return next((unit for part, unit in UNITS if part in path), None)


def figure_rows(data: Any, path: str = "") -> list[dict[str, Any]]:
    """Every figure of a nested answer (a dict with any of STAT_KEYS, or a number) as a row
    of the long table: its path and its statistics."""
    if isinstance(data, dict):
        if any(k in data for k in STAT_KEYS) and not any(
            isinstance(v, dict | list) for v in data.values()
        ):
            row = {k: data.get(k) for k in STAT_KEYS}
            return [{"figure": path, "unit": _unit(path, data), **row}]
        rows: list[dict[str, Any]] = []
        for key, value in data.items():
            if key not in ITEM_KEYS:
                rows.extend(figure_rows(value, f"{path}.{key}" if path else key))
        return rows
    if isinstance(data, list):
        rows = []
        for i, item in enumerate(data):
            name = next((item[k] for k in ITEM_KEYS if isinstance(item, dict) and k in item), i)
            rows.extend(figure_rows(item, f"{path}.{name}"))
        return rows
    if isinstance(data, int | float) and not isinstance(data, bool):
        return [{"figure": path, "unit": _unit(path, {"value": float(data)}), "value": data}]
    return []


def figures_csv(answer: BaseModel, filename: str) -> Response:
    """A statistics answer as the long table of its figures (the cohort, the disclosure and
    the time it was generated stay in the JSON answer; suppressed figures keep their reason)."""
    data = answer.model_dump(mode="json", exclude={"cohort", "disclosure", "generated_at"})
    return csv_response(FIGURE_COLUMNS, figure_rows(data), filename)
