"""Every route under /api/v1 and /fhir declares its scope at the route: exactly one guard alias
(app.http.guards) in its endpoint's signature, and no other guard anywhere in its dependencies,
so no scope is decided by the route's method or by where its router is included (a POST added
to /stats needs its own alias, not whatever its neighbours take). The guard sits under the
Idempotency-Key claim, which therefore runs only after it.

tests/auth/test_route_protection.py holds every route to its scopes over HTTP."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.auth import scopes
from app.http.authenticator import guard
from app.http.guards import CasesRead, StatsRead, require
from app.http.idempotency import claim_after
from app.main import create_app

GUARDED_PREFIXES = ("/api/v1/", "/fhir/")
OPEN = ("/fhir/r4/metadata",)  # the CapabilityStatement: open, as FHIR expects
_CLAIM = claim_after(None).dependency.__code__  # every claim is this function's closure


def _guards(dependant: Dependant, parent: Dependant | None = None) -> Iterator[tuple[Any, Any]]:
    """(scopes, the dependency that depends on the guard) for every guard in the tree."""
    if dependant.call is guard:
        yield frozenset(dependant.own_oauth_scopes or ()), parent
    for sub in dependant.dependencies:
        yield from _guards(sub, dependant)


def _problems(route: RouteContext) -> list[str]:
    name = f"{sorted(route.methods or ())} {route.path}"
    own = {s for s, _ in _guards(_signature(route))}
    found = list(_guards(route.dependant))  # with the router's and the decorator's dependencies
    if len(own) != 1 or frozenset() in own:
        return [f"{name}: its signature declares {len(own)} scoped guards (use one alias)"]
    problems = []
    if {s for s, _ in found} != own:
        problems.append(
            f"{name}: guarded outside its signature with {sorted(sorted(s) for s, _ in found)}"
        )
    for _scopes, parent in found:
        if parent is None or getattr(parent.call, "__code__", None) is not _CLAIM:
            problems.append(f"{name}: a guard without the Idempotency-Key claim after it")
    return problems


def _signature(route: RouteContext) -> Dependant:
    """What the endpoint's own parameters depend on."""
    assert route.endpoint is not None
    return get_dependant(path=str(route.path_format), call=route.endpoint)


def _guarded_routes(app: FastAPI) -> list[RouteContext]:
    """The application's routes as served (prefixes and routers' dependencies applied)."""
    return [
        r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
        and str(r.path).startswith(GUARDED_PREFIXES)
        and str(r.path) not in OPEN
    ]


def test_every_route_declares_one_scope_in_its_signature() -> None:
    app = create_app()
    routes = _guarded_routes(app)
    assert len(routes) >= 45
    assert [p for r in routes for p in _problems(r)] == []


def test_the_documented_scopes_are_the_declared_ones() -> None:
    app = create_app()
    paths = app.openapi()["paths"]
    mismatched = []
    for route in _guarded_routes(app):
        [declared] = {s for s, _ in _guards(_signature(route))}
        for method in route.methods or ():
            security = paths[route.path][method.lower()].get("security", [])
            documented = [
                set(scopes) for requirement in security for scopes in requirement.values()
            ]
            if not documented or any(d != declared for d in documented):
                mismatched.append(f"{method} {route.path}: {documented} != {set(declared)}")
    assert mismatched == []


def test_a_route_without_its_own_alias_is_caught() -> None:
    """The checks above catch a route that relies on its router, its method or nothing."""
    app = FastAPI()
    stats = APIRouter(prefix="/api/v1/stats", dependencies=[require(scopes.STATS_READ)])

    @stats.get("/fine")
    async def fine(principal: StatsRead) -> None: ...

    @stats.post("/added")  # guarded only by the router: stats:read for a write
    async def added() -> None: ...

    @app.get("/api/v1/open")
    async def open_route() -> None: ...

    @app.get("/api/v1/both")
    async def both(reader: CasesRead, stats_reader: StatsRead) -> None: ...

    app.include_router(stats)
    found = {r.path: _problems(r) for r in _guarded_routes(app)}
    assert found["/api/v1/stats/fine"] == []
    assert "declares 0 scoped guards" in found["/api/v1/stats/added"][0]
    assert "declares 0 scoped guards" in found["/api/v1/open"][0]
    assert "declares 2 scoped guards" in found["/api/v1/both"][0]


def test_a_router_guard_besides_the_alias_is_caught() -> None:
    app = FastAPI()
    stats = APIRouter(prefix="/api/v1/stats", dependencies=[require(scopes.ADMIN)])

    @stats.get("/doubled")
    async def doubled(principal: StatsRead) -> None: ...

    app.include_router(stats)
    [route] = _guarded_routes(app)
    assert "guarded outside its signature" in _problems(route)[0]
