"""CSV answers (app/http/csv.py): the shared rendering, and the case list as a table."""

import csv
import io
from datetime import UTC, datetime

from httpx import AsyncClient

from app.http.csv import Column, cell, render
from tests.factories import make_patient, make_procedure


def test_cells_are_plain_and_formulas_are_defused() -> None:
    assert cell(None) == "" and cell(True) == "true" and cell(False) == "false"
    assert cell(2.5) == "2.5" and cell(-2) == "-2" and cell(-1.5) == "-1.5"
    assert cell(datetime(2019, 2, 12, 9, 30, tzinfo=UTC)) == "2019-02-12T09:30:00+00:00"
    assert cell(["T7", "T12"]) == "T7;T12"
    for risky in ("=HYPERLINK(1)", "+1", "-cmd", "@SUM(A1)", "\tx"):
        assert cell(risky) == "'" + risky
    table = render(
        [Column("a", "A"), Column("b", "B", get=lambda item: item["a"] * 2)],
        [{"a": 1}, {"a": 2}],
    )
    assert table == "a,b\r\n1,2\r\n2,4\r\n"


async def test_the_case_list_as_csv(client: AsyncClient) -> None:
    patient = await make_patient(client, histology="=cmd|' /C calc'!A0", histology_group="IX")
    await make_procedure(client, patient["id"], levels=[{"level": "T7"}, {"level": "T12"}])
    await make_patient(client)
    as_json = (await client.get("/api/v1/cases")).json()["items"]
    response = await client.get("/api/v1/cases", headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["patient_id"] for r in table] == [c["patient_id"] for c in as_json]
    assert list(table[0]) == list(as_json[0])  # the same fields, in the same order
    mine = next(r for r in table if r["patient_id"] == patient["id"])
    assert mine["levels"] == "T7;T12" and mine["procedures"] == "1"
    assert mine["histology"].startswith("'=")  # a spreadsheet does not run it
    assert mine["histology_group"] == "IX" and mine["death_date"] == ""
    # JSON stays the default, also for a browser's Accept header
    browser = await client.get(
        "/api/v1/cases", headers={"Accept": "text/html,application/json;q=0.9,*/*;q=0.8"}
    )
    assert browser.headers["content-type"].startswith("application/json")
    paged = await client.get("/api/v1/cases", params={"format": "csv", "limit": 1})
    assert len(list(csv.DictReader(io.StringIO(paged.text)))) == 1
    assert paged.headers["x-next-cursor"]
    docs = (await client.get("/openapi.json")).json()["paths"]["/api/v1/cases"]["get"]
    assert "text/csv" in docs["responses"]["200"]["content"]
    assert "`first_procedure_at`" in docs["responses"]["200"]["description"]
