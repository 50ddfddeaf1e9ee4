"""OTEL_EXPORTER_OTLP_ENDPOINT set: spans for a request reach a real OTLP/HTTP receiver on
127.0.0.1, named by the route template, with SQL spans under them, and no patient identifier
in any attribute."""

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.auth.scopes import ALL_SCOPES
from app.config import get_settings
from app.main import create_app
from app.observability import tracing
from tests.conftest import make_api_key


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            type(self).bodies.append(body)
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[list[bytes], int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.bodies = []
    yield _Collector.bodies, int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
async def traced(
    receiver: tuple[list[bytes], int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncClient]:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver[1]}")
    get_settings.cache_clear()
    try:
        app = create_app()
    finally:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        get_settings.cache_clear()
    key = await make_api_key(*sorted(ALL_SCOPES), name="test: traced")
    headers = {"Authorization": f"Bearer {key}"}
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=headers
    ) as client:
        yield client
    tracing.shutdown()


def _spans(bodies: list[bytes]) -> list[Any]:
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    return spans


def _attributes(span: Any) -> dict[str, str]:
    return {
        a.key: str(getattr(a.value, a.value.WhichOneof("value") or "string_value"))
        for a in span.attributes
    }


async def test_request_spans_arrive_with_the_route_template_only(
    traced: AsyncClient, receiver: tuple[list[bytes], int]
) -> None:
    body = {"birth_date": "2005-03-14", "sex": "female", "histology": "Wilms tumour"}
    patient = (await traced.post("/api/v1/patients", json=body)).json()
    response = await traced.get(f"/api/v1/cases/{patient['id']}", params={"x": patient["id"]})
    assert response.status_code == 200
    tracing.flush()
    spans = _spans(receiver[0])
    server = [s for s in spans if _attributes(s).get("http.route") == "/api/v1/cases/{patient_id}"]
    assert server and all(s.name.endswith("/api/v1/cases/{patient_id}") for s in server)
    assert any("db.system" in _attributes(s) or "db.system.name" in _attributes(s) for s in spans)
    leaks = [
        (s.name, k, v)
        for s in spans
        for k, v in [("name", s.name), *_attributes(s).items()]
        if patient["id"] in v or patient["id"].replace("-", "") in v
    ]
    assert leaks == []
