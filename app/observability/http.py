"""Request count and latency by method, route template and status (never the raw path)."""

from starlette.types import Scope

from app.common.routes import route_template
from app.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


def route_label(scope: Scope) -> str:
    """The route template; every request that matched no route (404s, static files under a
    mount, literal paths without a route) shares one label."""
    if scope.get("route") is None:
        return UNMATCHED
    template = route_template(scope)
    return template if template.startswith("/") else UNMATCHED


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request and its latency (app.middleware.AccessLogMiddleware times
    every request once, for its log line and for this)."""
    method = scope.get("method", "")
    labels = (method if method in _METHODS else "OTHER", route_label(scope), str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)
