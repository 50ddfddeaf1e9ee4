from httpx import AsyncClient

from tests.factories import add_pain, make_patient, make_procedure


async def test_create_read_list_and_filter(client: AsyncClient) -> None:
    a = await make_patient(client, identifiers=[{"system": "mrn", "value": "A"}])
    b = await make_patient(client, histology="Wilms tumour", sex="male")
    listed = await client.get("/api/v1/patients", params={"histology": "wilms TUMOUR"})
    assert [p["id"] for p in listed.json()["items"]] == [b["id"]]
    found = await client.get("/api/v1/patients", params={"identifier_value": "A"})
    assert [p["id"] for p in found.json()["items"]] == [a["id"]]


async def test_cursor_pagination_walks_every_row_once(client: AsyncClient) -> None:
    created = [(await make_patient(client))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/patients", params=params)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created


async def test_bad_cursor_is_a_field_error(client: AsyncClient) -> None:
    response = await client.get("/api/v1/patients", params={"cursor": "!!not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_identifier_taken_is_a_conflict_and_changes_nothing(client: AsyncClient) -> None:
    await make_patient(client, identifiers=[{"system": "mrn", "value": "X"}])
    response = await client.post(
        "/api/v1/patients", json={"identifiers": [{"system": "mrn", "value": "X"}]}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/identifier-taken"
    assert len((await client.get("/api/v1/patients")).json()["items"]) == 1


async def test_same_system_other_value_is_fine(client: AsyncClient) -> None:
    await make_patient(client, identifiers=[{"system": "mrn", "value": "X"}])
    await make_patient(client, identifiers=[{"system": "mrn", "value": "Y"}])
    await make_patient(client, identifiers=[{"system": "other", "value": "X"}])


async def test_update_is_validated_like_a_create(client: AsyncClient) -> None:
    patient = await make_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    read = await client.get(url)
    bad = await client.patch(
        url, json={"death_date": "2001-01-01"}, headers={"If-Match": read.headers["etag"]}
    )
    assert bad.status_code == 422
    assert (await client.get(url)).json()["death_date"] is None
    good = await client.patch(
        url,
        json={"death_date": "2019-06-30", "identifiers": [{"system": "mrn", "value": "Z"}]},
        headers={"If-Match": read.headers["etag"]},
    )
    assert good.status_code == 200, good.text
    assert good.json()["death_date"] == "2019-06-30"
    assert good.json()["identifiers"] == [{"system": "mrn", "value": "Z"}]
    assert good.headers["etag"] == '"2"'


async def test_birth_date_cannot_move_after_existing_records(client: AsyncClient) -> None:
    patient = await make_patient(client)
    await make_procedure(client, patient["id"], performed_at="2019-02-12T09:30:00Z")
    url = f"/api/v1/patients/{patient['id']}"
    etag = (await client.get(url)).headers["etag"]
    response = await client.patch(
        url, json={"birth_date": "2019-06-01"}, headers={"If-Match": etag}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "birth_date"


async def test_death_date_cannot_move_before_existing_records(client: AsyncClient) -> None:
    """Nothing is recorded after death: a death date before the latest procedure or follow-up
    is refused, through the patient, a death event and an ingested patient.deceased alike."""
    patient = await make_patient(client)
    await make_procedure(client, patient["id"], performed_at="2019-02-12T09:30:00Z")
    await add_pain(client, patient["id"], "2019-03-01T10:00:00Z", 4)
    url = f"/api/v1/patients/{patient['id']}"
    etag = (await client.get(url)).headers["etag"]
    early = await client.patch(url, json={"death_date": "2019-02-20"}, headers={"If-Match": etag})
    assert early.status_code == 422, early.text
    assert early.json()["errors"][0]["field"] == "death_date"
    assert early.json()["type"].endswith("records-after-death")
    death = {"kind": "death", "patient_id": patient["id"], "occurred_at": "2019-02-20T08:00:00Z"}
    refused = await client.post("/api/v1/follow-ups", json=death)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "occurred_at"
    assert (await client.get(url)).json()["death_date"] is None  # nothing changed
    later = await client.patch(url, json={"death_date": "2019-03-01"}, headers={"If-Match": etag})
    assert later.status_code == 200 and later.json()["death_date"] == "2019-03-01"


async def test_an_ingested_death_before_the_batch_own_records_is_refused(
    client: AsyncClient,
) -> None:
    mrn = {"system": "urn:test:mrn", "value": "MRN-D"}
    envelope = {"source": "urn:test:epic", "patient": mrn}
    score = {
        **envelope,
        "event_id": "s",
        "type": "pain.scored",
        "occurred_at": "2019-03-01T10:00:00Z",
        "data": {"scale": "nrs11", "value": 4},
    }
    death = {**envelope, "event_id": "d", "type": "patient.deceased",
             "occurred_at": "2019-02-20T08:00:00Z", "data": {}}  # fmt: skip
    body = (await client.post("/api/v1/events", json={"events": [score, death]})).json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected"], body
    assert body["results"][1]["problem"]["errors"][0]["field"] == "occurred_at"


async def test_unknown_patient_is_404_problem(client: AsyncClient) -> None:
    response = await client.get("/api/v1/patients/01a219db-192f-79c5-9172-17e95ced7b54")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "/problems/not-found"
    assert body["status"] == 404 and "does not exist" in body["detail"]


async def test_malformed_ids_and_json_are_problems(client: AsyncClient) -> None:
    response = await client.get("/api/v1/patients/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.patient_id"
    broken = await client.post(
        "/api/v1/patients", content=b'{"sex": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["type"] == "/problems/malformed-json"


async def test_extra_fields_and_future_dates_are_named(client: AsyncClient) -> None:
    response = await client.post("/api/v1/patients", json={"sex": "female", "nickname": "x"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["nickname"]
    future = await client.post("/api/v1/patients", json={"birth_date": "2999-01-01"})
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "birth_date"


async def test_the_histology_group_is_a_coded_field_beside_the_free_text(
    client: AsyncClient,
) -> None:
    """The sender gives the ICCC-3 group; the registry never derives it from the free text."""
    guessable = await make_patient(client, histology="Wilms tumour")
    assert guessable["histology_group"] is None
    patient = await make_patient(client, histology="Wilms tumour", histology_group="VI")
    url = f"/api/v1/patients/{patient['id']}"
    read = await client.get(url)
    assert read.json()["histology_group"] == "VI"
    assert read.json()["histology"] == "Wilms tumour"
    moved = await client.patch(
        url, json={"histology_group": "IX"}, headers={"If-Match": read.headers["etag"]}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["histology_group"] == "IX"
    assert moved.json()["histology"] == "Wilms tumour"  # as recorded
    cleared = await client.patch(
        url, json={"histology_group": None}, headers={"If-Match": moved.headers["etag"]}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["histology_group"] is None


async def test_a_histology_group_outside_the_vocabulary_is_named(client: AsyncClient) -> None:
    for value in ("renal", "vi", "XIII", "Wilms tumour", 6):
        response = await client.post("/api/v1/patients", json={"histology_group": value})
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["histology_group"]
    patient = await make_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    etag = (await client.get(url)).headers["etag"]
    bad = await client.patch(url, json={"histology_group": "sarcoma"}, headers={"If-Match": etag})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["histology_group"]
