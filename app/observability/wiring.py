"""What app.main calls: request metrics, GET /metrics and, if configured, tracing."""

from fastapi import FastAPI

from app.config import Settings
from app.observability.http import RequestMetricsMiddleware
from app.observability.router import router


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RequestMetricsMiddleware)
    app.include_router(router)
    if settings.otel_exporter_otlp_endpoint:
        from app.observability.tracing import install_tracing  # only with the setting

        install_tracing(app, settings.otel_exporter_otlp_endpoint)
