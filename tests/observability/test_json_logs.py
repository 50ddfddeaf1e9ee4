"""LOG_FORMAT=json: one JSON object per line with the request id, under the same redaction."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
from httpx import AsyncClient

from app.config import get_settings
from app.logs import JsonFormatter, configure_logging


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root, ours = logging.getLogger(), logging.getLogger("vertebro")
    level = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.INFO)
    configure_logging(get_settings().model_copy(update={"log_format": "json"}))
    assert isinstance(handler.formatter, JsonFormatter)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        ours.setLevel(level)
        configure_logging(get_settings())  # back to text for the other handlers


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


async def test_each_line_is_an_object_with_the_request_id(
    client: AsyncClient, json_lines: io.StringIO
) -> None:
    response = await client.get("/api/v1/patients", headers={"X-Request-ID": "req-json-1"})
    assert response.status_code == 200
    access = [r for r in _records(json_lines) if r["logger"] == "vertebro.access"]
    (line,) = [r for r in access if r["request_id"] == "req-json-1"]
    assert line["level"] == "INFO"
    assert str(line["message"]).startswith("GET /api/v1/patients 200")
    assert {"time", "level", "logger", "request_id", "message"} <= set(line)


def test_extras_kept_and_exception_messages_withheld(json_lines: io.StringIO) -> None:
    log = logging.getLogger("vertebro.test")
    secret = "-".join(("MRN", "SECRET", "7"))  # not in the source line the traceback shows
    try:
        raise ValueError(f"patient {secret} broke it")
    except ValueError:
        log.exception("could not write %d rows", 3, extra={"rows": 3})
    (line,) = _records(json_lines)
    assert line["message"] == "could not write 3 rows"
    assert line["rows"] == 3 and line["request_id"] == "-"
    assert "ValueError: (message withheld)" in str(line["exception"])
    assert secret not in json_lines.getvalue()
