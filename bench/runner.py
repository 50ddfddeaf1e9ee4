"""Shared benchmark plumbing: a result row, the table, the JSON file, latency percentiles."""

import json
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    benchmark: str  # e.g. "ingest"
    case: str  # e.g. "single event, 8 clients"
    throughput: float | None = None  # operations per second
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    baseline: str | None = None  # what the ratio compares against, measured in the same run
    ratio: float | None = None  # this / baseline
    errors: int = 0
    note: str = ""


def percentile(samples_ms: Sequence[float], q: float) -> float:
    """q in (0, 100); nearest-rank on sorted samples."""
    if not samples_ms:
        return float("nan")
    ordered = sorted(samples_ms)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(samples_ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples_ms), 2) if samples_ms else float("nan"),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "p99_ms": round(percentile(samples_ms, 99), 2),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def print_table(results: Sequence[Result], title: str = "Benchmarks") -> None:
    table = Table(title=title)
    for column in (
        "benchmark",
        "case",
        "ops/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "vs",
        "ratio",
        "errors",
    ):
        table.add_column(
            column, justify="left" if column in ("benchmark", "case", "vs") else "right"
        )
    for r in results:
        table.add_row(
            r.benchmark,
            r.case,
            _fmt(r.throughput),
            _fmt(r.p50_ms, 2),
            _fmt(r.p95_ms, 2),
            _fmt(r.p99_ms, 2),
            r.baseline or "",
            _fmt(r.ratio, 2),
            str(r.errors),
        )
    Console().print(table)


def write_json(results: Sequence[Result], name: str = "latest") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    now = datetime.now(UTC)
    document = json.dumps(
        {
            "at": now.isoformat(),
            "commit": commit,
            "machine": {"python": platform.python_version(), "cpus": _cpus()},
            "results": [asdict(r) for r in results],
        },
        indent=2,
    )
    # latest.json for "what did the last run say", and a copy per run to compare commits
    (RESULTS_DIR / f"{now:%Y%m%dT%H%M%SZ}-{commit or 'nocommit'}.json").write_text(document)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(document)
    return path


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
