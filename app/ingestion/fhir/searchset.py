"""Searchset Bundles (FHIR R4 search, Patient/$everything): entries with absolute fullUrls, a
`self` link and, while more remain, a `next` link carrying an opaque cursor.

The query parameters of a search are read here too: known ones are kept (in the order sent),
an unknown one is refused (400, OperationOutcome naming it) unless the client asked
`Prefer: handling=lenient`, which ignores it and leaves it out of the `self` link (R4 3.1.1.5.4:
the self link says what was actually used).
"""

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import decode_cursor, fetch_page
from app.errors import RuleViolation
from app.ingestion.fhir.reading import FhirError

DEFAULT_COUNT = 50
MAX_COUNT = 200
# parameters every search and $everything takes besides its own
PAGING = ("_count", "_cursor", "_total")


@dataclass
class Query:
    """The parameters a search uses, as (name, value) pairs in the order sent."""

    params: list[tuple[str, str]] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.params if n == name]

    def one(self, name: str) -> str | None:
        found = self.values(name)
        if len(found) > 1:
            raise FhirError(400, "invalid", f"Give {name} once.", name)
        return found[0] if found else None

    @property
    def count(self) -> int:
        raw = self.one("_count")
        if raw is None:
            return DEFAULT_COUNT
        if not raw.isdigit() or not 0 < int(raw) <= MAX_COUNT:
            raise FhirError(400, "invalid", f"_count is a whole number 1-{MAX_COUNT}.", "_count")
        return int(raw)

    @property
    def cursor(self) -> str | None:
        return self.one("_cursor")

    @property
    def accurate_total(self) -> bool:
        total = self.one("_total")
        if total not in (None, "none", "estimate", "accurate"):
            raise FhirError(400, "invalid", "_total is none, estimate or accurate.", "_total")
        return total == "accurate"


def lenient(prefer: str | None) -> bool:
    """`Prefer: handling=lenient` (R4 search: unknown parameters are then ignored)."""
    parts = [p.strip().lower().replace(" ", "") for p in (prefer or "").split(",")]
    return "handling=lenient" in parts


def read_query(items: Iterable[tuple[str, str]], known: Sequence[str], prefer: str | None) -> Query:
    """The parameters of a search; unknown ones refused (strict, the default) or dropped."""
    allowed = set(known) | set(PAGING)
    query = Query()
    for name, value in items:
        if name in allowed:
            query.params.append((name, value))
        elif not lenient(prefer):
            raise FhirError(
                400, "not-supported",
                f"Unknown search parameter {name!r}; this server takes "
                f"{', '.join(sorted(allowed))}. Send Prefer: handling=lenient to have unknown "
                "parameters ignored.", name,
            )  # fmt: skip
    return query


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.startswith("o") or not text[1:].isdigit():
        raise FhirError(400, "invalid", "This _cursor was not issued by this server.", "_cursor")
    return int(text[1:])


def link(base: str, path: str, query: Query, cursor: str | None = None) -> str:
    params = [(n, v) for n, v in query.params if n != "_cursor"]
    if cursor is not None:
        params.append(("_cursor", cursor))
    suffix = f"?{urlencode(params)}" if params else ""
    return f"{base}/{path}{suffix}"


def bundle(
    base: str,
    path: str,
    query: Query,
    resources: Sequence[tuple[dict[str, Any], str]],
    next_cursor: str | None,
    total: int | None,
) -> dict[str, Any]:
    """A searchset of (resource, search mode) pairs."""
    links = [{"relation": "self", "url": link(base, path, query, query.cursor)}]
    if next_cursor is not None:
        links.append({"relation": "next", "url": link(base, path, query, next_cursor)})
    result: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        result["total"] = total
    result["link"] = links
    result["entry"] = [
        {
            "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": mode},
        }
        for resource, mode in resources
    ]
    return result


Keep = Callable[[dict[str, Any]], bool]


async def collect(
    session: AsyncSession,
    stmt: Select[Any],
    key: Any,
    query: Query,
    render: Callable[[Sequence[Any]], Any],
    keep: Keep | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of rendered matches; with `keep` (a filter SQL cannot say) as many keyset pages
    as it takes to fill it."""
    wanted, cursor = query.count, query.cursor
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except RuleViolation:
            raise FhirError(
                400, "invalid", "This _cursor was not issued by this server.", "_cursor"
            ) from None
    found: list[dict[str, Any]] = []
    while True:
        rows, cursor = await fetch_page(session, stmt, key, cursor, wanted - len(found))
        found += [r for r in await render(rows) if keep is None or keep(r)]
        if cursor is None or len(found) >= wanted:
            return found, cursor


async def total_of(
    session: AsyncSession, stmt: Select[Any], query: Query, page: int, more: bool, keep: bool
) -> int | None:
    if not query.cursor and not more:
        return page  # the first page holds every match
    if not query.accurate_total or keep:
        return None
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
