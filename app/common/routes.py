"""The matched route of a request, as logs and the audit trail name it."""

from starlette.types import Scope


def route_template(scope: Scope) -> str:
    """The matched route as a template, `/api/v1/patients/{patient_id}`: the request path with
    each path parameter's value put back as its name. Logs and the audit trail use it instead
    of the concrete path. Anything not safely reconstructed falls back to the route's own
    (router-relative) template, never to the raw path."""
    route = scope.get("route")
    if route is None:
        # a plain Starlette route (the docs): a literal path is its own template
        literal = scope.get("endpoint") is not None and not scope.get("path_params")
        return str(scope.get("path")) if literal else "<unmatched>"
    fallback = str(getattr(route, "path_format", None) or "<unknown>")
    pending = list(scope.get("path_params", {}).items())
    segments = str(scope.get("path", "")).split("/")
    for i, segment in enumerate(segments):
        if pending and segment == str(pending[0][1]):
            segments[i] = "{" + pending.pop(0)[0] + "}"
    if pending:
        return fallback
    template = "/".join(segments)
    return template if template.endswith(fallback) else fallback
