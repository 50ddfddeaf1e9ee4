"""Who imports whom: the contracts of pyproject.toml ([tool.importlinter]) hold for the app,
and they would catch a new cycle between its packages or an upward import.

Known exceptions are listed in the contracts themselves (`ignore_imports`, commented); an
exception that no longer matches an import fails the check, so it is removed with the import.
"""

import re
import subprocess
import sys
from copy import deepcopy
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
CONTRACT_TYPES: dict[str, type[Contract]] = {
    "acyclic_siblings": AcyclicSiblingsContract,
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
}


def test_the_app_keeps_its_import_contracts() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), str(PYPROJECT), "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        cwd=PYPROJECT.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _broken(graph: grimp.ImportGraph) -> set[str]:
    """The ids of the contracts this graph breaks."""
    config = read_configuration(str(PYPROJECT))
    broken = set()
    for contract_options in config["contracts_options"]:
        contract = CONTRACT_TYPES[contract_options["type"]](
            name=contract_options["name"],
            session_options=config["session_options"],
            contract_options=contract_options,
        )
        if not contract.check(deepcopy(graph), verbose=False).kept:
            broken.add(contract_options["id"])
    return broken


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("app", cache_dir=None)


def test_every_package_has_its_layer(graph: grimp.ImportGraph) -> None:
    """A new area or module takes its place in the layers, so that the contract covers it."""
    config = read_configuration(str(PYPROJECT))
    (layers,) = (c["layers"] for c in config["contracts_options"] if c["id"] == "layers")
    placed = {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}
    assert graph.find_children("app") - placed == set()


@pytest.mark.parametrize(
    ("importer", "imported", "breaks"),
    [
        # what issue 23 removed: notifications <-> triggers (a cycle), and a writer deciding
        # for itself to re-evaluate the triggers (upward, now that triggers uses no procedures)
        ("app.notifications.worker", "app.triggers.evaluation", {"acyclic", "layers"}),
        ("app.procedures.service", "app.triggers.marks", {"layers"}),
        # a foundation reaching up into an area
        ("app.common.pagination", "app.patients.service", {"acyclic", "layers"}),
        ("app.models.patient", "app.clinical.enums", set()),  # downward: fine
        # upward without a cycle: statistics are no client of the case view
        ("app.outcomes.service", "app.cases.schemas", {"layers"}),
        # a service reaching for a router
        ("app.triggers.evaluation", "app.triggers.router", {"routers-on-top"}),
    ],
)
def test_a_new_cycle_or_upward_import_breaks_a_contract(
    graph: grimp.ImportGraph, importer: str, imported: str, breaks: set[str]
) -> None:
    assert _broken(graph) == set()
    changed = deepcopy(graph)
    changed.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    assert _broken(changed) == breaks
