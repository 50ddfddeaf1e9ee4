"""What app.main calls: GET /metrics and, if configured, tracing (requests are counted by
app.middleware.AccessLogMiddleware, which times them for the access log too)."""

from fastapi import FastAPI

from app.config import Settings
from app.observability.router import router


def install(app: FastAPI, settings: Settings) -> None:
    app.include_router(router)
    if settings.otel_exporter_otlp_endpoint:
        from app.observability.tracing import install_tracing  # only with the setting

        install_tracing(app, settings.otel_exporter_otlp_endpoint)
