"""The paper's three cases (Cardarelli-Leite et al. 2021) give the paper's figures."""

from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.seeding import load_all


async def _stats(client: AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/stats/outcomes", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_paper_counts(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await load_all(sessionmaker)
    body = await _stats(client, kind="vertebroplasty")
    counts = body["counts"]
    assert counts["patients"]["value"] == 3
    assert counts["sessions"]["value"] == 6
    assert counts["episodes"]["value"] == 5  # the two-stage series counts once
    assert counts["level_treatments"]["value"] == 13
    assert counts["distinct_vertebrae"]["value"] == 11
    assert counts["repeat_level_treatments"]["n"] == 2  # L3, the second and third time
    assert counts["staged_series"]["value"] == 1
    assert body["complications"]["total"]["value"] == 0
    assert body["disclosure"]["exact"] is True


async def test_paper_outcomes(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Pain improved after every vertebroplasty with a baseline (case 1: 7/10 to 5/10 at day
    7 and 0/10 by day 30; case 3: 8/10 to 2/10 at day 30), off opioids by a month in case 1,
    all three children died (the paper's follow-up), no adverse event from vertebroplasty but
    the pain flare after the cryoablation."""
    await load_all(sessionmaker)
    body = await _stats(client, kind="vertebroplasty", age_band="paediatric")
    assert body["counts"]["patients"]["value"] == 3  # all children
    pain = body["pain"]
    assert pain["baseline"]["n"] == 3  # case 2's first baseline is 0/10 (pain-free)
    day7, _day14, day30 = pain["time_points"][:3]
    assert day7["score"]["mean"] == 5.0
    assert day7["improved"] == {"n": 1, "denominator": 1, "proportion": 1.0, "suppressed": None}
    assert day30["score"]["n"] == 2
    assert day30["improved"]["n"] == 2
    assert day30["pain_free"]["n"] == 1
    assert day30["immpact_50"]["n"] == 2
    assert pain["clinical_success_2w"]["denominator"] == 0  # nobody scored near day 14
    analgesia = {point["day"]: point for point in body["analgesia"]}
    assert analgesia[0]["ome_mg_day"]["median"] == 60.0  # morphine 10 mg x 6
    assert analgesia[30]["opioid_free"]["n"] >= 1
    assert body["survival"]["events"]["value"] == 3
    assert body["recurrence"]["events"]["value"] == 1  # case 1: back pain at seven months
    cryo = await _stats(client, kind="cryoablation")
    assert cryo["complications"]["total"]["value"] == 1
    assert cryo["complications"]["symptomatic"]["n"] == 1


async def test_paper_cases_by_histology_group(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Cases 1 and 3 (alveolar rhabdomyosarcoma) are ICCC-3 group IX, soft tissue sarcomas;
    case 2 (Wilms tumour) group VI, renal tumours."""
    await load_all(sessionmaker)
    response = await client.get(
        "/api/v1/stats/breakdown", params={"by": "histology", "kind": "vertebroplasty"}
    )
    assert response.status_code == 200, response.text
    groups = {row["group"]: row for row in response.json()["groups"]}
    assert list(groups) == ["VI", "IX"]
    assert groups["IX"]["patients"]["value"] == 2
    assert groups["IX"]["episodes"]["value"] == 2  # case 3's two-stage series counts once
    assert groups["VI"]["patients"]["value"] == 1
    assert groups["VI"]["episodes"]["value"] == 3  # case 2: L3 three times
    narrowed = await _stats(client, kind="vertebroplasty", histology="IX")
    assert narrowed["counts"]["patients"]["value"] == 2
