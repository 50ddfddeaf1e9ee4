"""Every problem type the code can raise has a catalogue entry, and the catalogue is served.

The walk reads the source of app/ for every construction of a DomainError subclass (or of a
`Classified` answer) and the code it passes, and the default codes of the family; a type added
later without a catalogue entry fails here the day it appears."""

import ast
import importlib
import inspect
from http import HTTPStatus
from pathlib import Path
from typing import Any

from httpx import AsyncClient

import app.main  # imports every area, so the whole DomainError family is loaded
from app.errors import DomainError
from app.errors.catalogue import CATALOGUE
from app.errors.classify import Classified

APP = Path(app.main.__file__).parent
CODE_PARAMETERS = ("code", "reason")  # CredentialRejected names its code `reason`
# HTTPExceptions are answered with their reason phrase as code (classify): the routing layer's
HTTP_CODES = {HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED}


def _family(cls: type[DomainError]) -> set[type[DomainError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _family(sub)
    return found


def _code_index(cls: type[Any]) -> tuple[int, str] | None:
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for name in CODE_PARAMETERS:
        if name in params:
            return params.index(name), name
    return None


def _strings(node: ast.expr, module: Any) -> list[str] | None:
    """The codes an argument can be: a literal, a module constant, either branch of an `if`;
    None for a value passed through (another error's code)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body, module), _strings(node.orelse, module)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.Name) and isinstance(value := getattr(module, node.id, None), str):
        return [value]
    return None


def _module(path: Path) -> Any:
    """The module, for its constants (None while it cannot be imported: its literals count)."""
    name = ".".join(path.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__")
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _raised_codes() -> dict[str, str]:
    classes = {cls.__name__: cls for cls in _family(DomainError)}
    codes: dict[str, str] = {}
    for cls in classes.values():
        index = _code_index(cls)
        default = inspect.signature(cls.__init__).parameters[index[1]].default if index else None
        if isinstance(default, str):
            codes[default] = f"default of {cls.__name__}"
    for path in sorted(APP.rglob("*.py")):
        module = _module(path)
        tree = ast.parse(path.read_text())
        for owner in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)] + [tree]:
            parent = None
            if isinstance(owner, ast.ClassDef) and owner.name in classes:
                parent = classes[owner.name].__mro__[1]
            for node in ast.walk(owner):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else None
                target: type[Any] | None = classes.get(name or "")
                if name == "Classified":
                    target = Classified
                is_super = isinstance(func, ast.Attribute) and func.attr == "__init__"
                if is_super and parent is not None:
                    target = parent
                if target is None or (index := _code_index(target)) is None:
                    continue
                arg = next((k.value for k in node.keywords if k.arg == index[1]), None)
                if arg is None and index[0] < len(node.args):
                    arg = node.args[index[0]]
                for code in (_strings(arg, module) or []) if arg is not None else []:
                    codes.setdefault(code, f"{path.relative_to(APP.parent)}:{node.lineno}")
    for status in HTTP_CODES:
        codes[status.phrase.lower().replace(" ", "-")] = f"HTTPException {status.value}"
    return codes


def test_every_problem_type_the_code_raises_has_a_catalogue_entry() -> None:
    codes = _raised_codes()
    # the walk finds the family's codes: constructor literals, defaults, constants, branches
    assert {"event-conflict", "unknown-level", "revoked-credential", "malformed-json"} <= set(codes)
    assert {"too-many-failed-authentications", "missing-type", "unknown-type"} <= set(codes)
    missing = {code: where for code, where in codes.items() if code not in CATALOGUE}
    assert not missing, f"problem types without a catalogue entry: {missing}"


def test_every_entry_is_complete() -> None:
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert entry.title and entry.when and entry.fix and entry.example, code
        assert entry.title != HTTPStatus(entry.status).phrase or code in {
            "not-found", "conflict", "forbidden", "method-not-allowed", "unsupported-media-type"
        }, code  # fmt: skip


async def test_catalogue_is_served_as_json(anonymous_client: AsyncClient) -> None:
    listed = await anonymous_client.get("/problems")
    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    codes = {p["code"] for p in listed.json()}
    assert codes == set(CATALOGUE)
    one = await anonymous_client.get("/problems/event-conflict")
    assert one.status_code == 200
    body = one.json()
    assert body["type"] == "/problems/event-conflict"
    assert body["title"] == "Event changed after acceptance" and body["status"] == 409
    assert body["example"]["type"] == body["type"] and body["example"]["title"] == body["title"]
    # a problem's `type`, as a refused request answers it, is the page's address
    refused = await anonymous_client.get("/api/v1/patients")
    assert refused.status_code == 401
    page = await anonymous_client.get(refused.json()["type"])
    assert page.status_code == 200 and page.json()["code"] == "unauthenticated"
    # the URN of before still finds it
    legacy = await anonymous_client.get("/problems/urn:vertebro:problem:event-conflict")
    assert legacy.json() == body


async def test_catalogue_is_served_as_html_to_a_browser(anonymous_client: AsyncClient) -> None:
    accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = await anonymous_client.get("/problems/unknown-level", headers=accept)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Unknown vertebral level</h1>" in page.text and "How to fix it" in page.text
    index = await anonymous_client.get("/problems", headers=accept)
    assert '<a href="/problems/unknown-level">' in index.text


async def test_unknown_problem_type_is_a_404_problem(anonymous_client: AsyncClient) -> None:
    response = await anonymous_client.get("/problems/no-such-thing")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"
    assert response.json()["title"] == "Not found"
