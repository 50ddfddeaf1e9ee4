"""OpenTelemetry tracing, set up only when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans for
requests (FastAPI), SQL (SQLAlchemy) and outgoing HTTP (httpx), sent over OTLP/HTTP.

Spans carry route templates, never concrete paths or URLs: the instrumentations' path- and
URL-bearing attributes are replaced (`_redact`); SQL spans carry the
statement with its placeholders, never parameter values."""

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app.db import get_engine

# attributes that hold a concrete path, query or URL (old and new semantic conventions)
REDACTED = ("http.target", "http.url", "url.path", "url.query", "url.full", "http.client_ip")

_provider: TracerProvider | None = None


def _redact(span: trace.Span, *_: object) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in REDACTED:
        if key in attributes:
            span.set_attribute(key, "[redacted]")


class _Redactor(SpanProcessor):
    """For spans made with their attributes (httpx's client spans)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        _redact(span)


def install_tracing(app: FastAPI, endpoint: str) -> TracerProvider:
    """Instrument this app; the provider (one per process) exports to `endpoint`/v1/traces."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": "vertebro-registry"}))
        _provider.add_span_processor(_Redactor())
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        # its declared range stops below SQLAlchemy 2.1 (which we run): the engine events it
        # hooks are unchanged, and tests/observability/test_tracing.py checks its spans arrive
        SQLAlchemyInstrumentor().instrument(
            engine=get_engine().sync_engine,
            tracer_provider=_provider,
            enable_commenter=False,
            skip_dep_check=True,
        )
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls="/metrics,/health,/ready",
        server_request_hook=_redact,  # the ASGI middleware sets the path after the start
    )
    return _provider


def flush() -> None:
    """Send what is buffered (tests, shutdown)."""
    if _provider is not None:
        _provider.force_flush()


def shutdown() -> None:
    """Flush, stop exporting and remove the SQLAlchemy and httpx instrumentation (tests)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        SQLAlchemyInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()
        _provider = None
