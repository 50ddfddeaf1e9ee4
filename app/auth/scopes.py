"""The scopes a credential can hold, what each allows, and the implications between them.

`admin` does NOT imply the other scopes: an administrator manages keys, subscriptions and the
audit trail, and reads patient data only with a key that also holds `cases:read`.
"""

from collections.abc import Iterable

EVENTS_WRITE = "events:write"
CASES_READ = "cases:read"
CASES_WRITE = "cases:write"
TRIGGERS_READ = "triggers:read"
TRIGGERS_MANAGE = "triggers:manage"
STATS_READ = "stats:read"
STATS_RESEARCH = "stats:research"
ADMIN = "admin"
METRICS_READ = "metrics:read"

SCOPES: dict[str, str] = {
    EVENTS_WRITE: "Send clinical events (EHR integrations, FHIR).",
    CASES_READ: "Read patients, procedures, complications, follow-ups and cases.",
    CASES_WRITE: "Create and update patient-level records (implies cases:read).",
    TRIGGERS_READ: "Read imaging triggers: rule, status, due date and history, not the case "
    "data behind them (levels, dates, scores: cases:read).",
    TRIGGERS_MANAGE: "Read (as triggers:read), acknowledge and close imaging triggers.",
    STATS_READ: "Aggregate statistics only, small cells suppressed.",
    STATS_RESEARCH: "Exact aggregate statistics (implies stats:read).",
    ADMIN: "Manage API keys and subscriptions; query the audit trail.",
    METRICS_READ: "Scrape /metrics (Prometheus; no patient data, no identifiers).",
}
ALL_SCOPES: frozenset[str] = frozenset(SCOPES)

# A scope on the left also grants the scopes on the right (and what those imply). Nothing else
# is implied.
IMPLIES: dict[str, frozenset[str]] = {
    CASES_WRITE: frozenset({CASES_READ}),
    CASES_READ: frozenset({TRIGGERS_READ}),
    TRIGGERS_MANAGE: frozenset({TRIGGERS_READ}),
    STATS_RESEARCH: frozenset({STATS_READ}),
}

# Requests guarded only by these scopes read aggregates: audited without patient ids.
AGGREGATE_SCOPES: frozenset[str] = frozenset({STATS_READ, STATS_RESEARCH})

# Credentials with one of these see patients' external identifiers (MRNs) in responses; any
# other credential can still search by an exact identifier but gets the records without them.
IDENTIFIER_SCOPES: frozenset[str] = frozenset({CASES_WRITE, EVENTS_WRITE})


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes granted by holding `scopes` (implications applied, transitively)."""
    granted: set[str] = set()
    pending = list(scopes)
    while pending:
        scope = pending.pop()
        if scope not in granted:
            granted.add(scope)
            pending.extend(IMPLIES.get(scope, ()))
    return frozenset(granted)


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - ALL_SCOPES)


def without(required: Iterable[str]) -> frozenset[str]:
    """Every scope except those that would grant any of `required` (for negative tests and
    least-privilege examples)."""
    needed = set(required)
    return frozenset(s for s in ALL_SCOPES if not (expand([s]) & needed))
