"""The README is a front door under 300 lines, and nothing a reader is sent to is missing: every
file the README and docs/ link or name exists, and neither they, the code nor the OpenAPI text
cite the reference documents the registry was built from but does not ship (DOMAIN.md,
seed-paper.txt): the registry's own words are docs/clinical-rules.md."""

import re
from pathlib import Path

import pytest
from httpx import AsyncClient

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_SHIPPED = re.compile(r"DOMAIN\.md|seed-paper\.txt|\.\./shared")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
NAMED = re.compile(
    r"`((?:app|docs|tests|bench|migrations|docker|seed|tools|requirements)/[^`\s*<>{}]+)`"
)
# what the tools write (bench/results/, var/ ...): named in the docs, absent from a clone
OUTPUTS = tuple(
    line.strip()
    for line in (ROOT / ".gitignore").read_text().splitlines()
    if line.strip().endswith("/") and not line.startswith("#")
)


def test_the_readme_is_a_front_door() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) < 300


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_file_a_document_links_or_names_exists(document: Path) -> None:
    text = document.read_text()
    missing = []
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (document.parent / target).resolve().exists():
            missing.append(target)
    for named in NAMED.findall(text):
        path = named.split("::")[0].rstrip(".,:;")
        a_file = "." in Path(path).name or path.endswith("/")  # or a folder spelt as one
        if a_file and not path.startswith(OUTPUTS) and not (ROOT / path).exists():
            missing.append(named)
    assert missing == []


def test_nothing_cites_a_reference_document_the_repository_does_not_ship() -> None:
    sources = [*DOCUMENTS, *ROOT.joinpath("app").rglob("*.py")]
    sources += [*ROOT.joinpath("migrations").rglob("*.py"), ROOT / "pyproject.toml"]
    citing = [str(p.relative_to(ROOT)) for p in sources if NOT_SHIPPED.search(p.read_text())]
    assert citing == []


async def test_the_openapi_text_cites_only_what_ships(anonymous_client: AsyncClient) -> None:
    response = await anonymous_client.get("/openapi.json")
    assert response.status_code == 200
    assert not NOT_SHIPPED.search(response.text)
    assert "clinical-rules.md" in response.text  # the definitions it cites are found there
