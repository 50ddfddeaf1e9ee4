"""Logging: our loggers log no identifiers, names, free text or bodies; tracebacks withhold
exception messages; every record carries the request id (set by app.middleware's
RequestIdMiddleware)."""

import contextvars
import json
import logging
import sys
import traceback
from typing import Any

from app.config import Settings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactingFormatter(logging.Formatter):
    """Tracebacks keep their frames and exception types but withhold exception messages:
    database errors quote parameter values, which can be patient data."""

    def formatException(self, ei: Any) -> str:
        exc = ei[1]
        parts: list[str] = []
        seen: set[int] = set()
        while isinstance(exc, BaseException) and id(exc) not in seen:
            seen.add(id(exc))
            frames = "".join(traceback.format_tb(exc.__traceback__))
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            parts.append(f"Traceback (most recent call last):\n{frames}{name}: (message withheld)")
            exc = exc.__cause__ or exc.__context__
        return "\nCaused by / during handling of:\n".join(reversed(parts))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(RedactingFormatter):
    """LOG_FORMAT=json: one JSON object per line (time, level, logger, request_id, message, the
    record's extras, and the redacted traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(settings: Settings) -> None:
    """Idempotent. Our loggers log no identifiers, names, free text or bodies; uvicorn's
    access log (which prints query strings) is silenced in favour of AccessLogMiddleware."""
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # their DEBUG/INFO lines quote SQL parameters or URLs: never below WARNING
    for chatty in ("aiosqlite", "asyncpg", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not settings.database_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    json_lines = settings.log_format == "json"
    formatter = JsonFormatter() if json_lines else RedactingFormatter(LOG_FORMAT)
    root = logging.getLogger()
    if settings.environment != "test":
        logging.getLogger("vertebro").setLevel(logging.INFO)
        if not any(isinstance(h, _StderrHandler) for h in root.handlers):
            root.addHandler(_StderrHandler(sys.stderr))
    for name in ("", "uvicorn", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            wanted = JsonFormatter if json_lines else RedactingFormatter
            if type(handler.formatter) is not wanted and not _is_pytest(handler):
                handler.setFormatter(formatter)
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging adds (recognised so it is added once)."""


def _is_pytest(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("_pytest")
