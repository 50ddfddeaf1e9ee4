"""Metrics, traces and their wiring (issue 21, item 5; docs/operations.md "Metrics and traces").

`metrics` declares every series once; the areas call its one-line helpers where things happen.
`wiring.install(app, settings)` adds the request middleware, `GET /metrics` (scope
`metrics:read`) and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, OpenTelemetry tracing.
"""
