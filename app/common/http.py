"""HTTP helpers shared by the routers: paging parameters, ETag / If-Match."""

from typing import Annotated

from fastapi import Header, Query, Response

from app.errors import RuleViolation

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` from the previous page.")
]
IfMatch = Annotated[
    str | None,
    Header(
        description="The ETag of the version you read; a stale value is refused with 409.",
        examples=['"1"'],
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise RuleViolation(
            "If-Match", "If-Match must be an ETag returned by this API.", "bad-etag"
        )
    return int(raw)
