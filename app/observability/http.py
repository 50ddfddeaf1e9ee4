"""Request count and latency by method, route template and status (never the raw path)."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        finally:
            method = scope.get("method", "")
            labels = (method if method in _METHODS else "OTHER", route_label(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)
