"""HTTP helpers shared by the routers: paging parameters, ETag / If-Match."""

from typing import Annotated

from fastapi import Header, Query, Response

from app.errors import PreconditionRequired, RuleViolation

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` from the previous page.")
]
IfMatch = Annotated[
    str | None,
    Header(
        description="Required on updates: the ETag of the version you read. Missing: 428; "
        "stale: 412 (read again and retry).",
        examples=['"1"'],
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(if_match: str | None) -> int:
    """The version an update is based on. If-Match is required (and `*` is not enough), so
    two clinicians cannot silently overwrite each other."""
    if if_match is None or if_match.strip() in ("", "*"):
        raise PreconditionRequired(
            "Send If-Match with the ETag of the version you read (GET it first)."
        )
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise RuleViolation(
            "If-Match", "If-Match must be an ETag returned by this API.", "bad-etag"
        )
    return int(raw)
