"""POST /hl7/v2: ADT, ORU and medication messages become the events of the JSON door."""

from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import AuditEvent, EventLog, FollowUpEvent, Patient
from tests.conftest import ScopedClient
from tests.hl7.helpers import ER7, URL, message, msh, obx, pid, send
from tests.ingestion.helpers import count


async def _patients(client: AsyncClient) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await client.get("/api/v1/patients")).json()["items"]
    return items


async def test_an_a04_registers_the_patient_with_what_the_registry_stores(
    client: AsyncClient,
) -> None:
    ack = await send(
        client,
        message(
            msh("ADT^A04^ADT_A01", "ADT-1"),
            "EVN|A04|20190301085900+0000",
            pid(extra="~123-45-6789^^^&2.16.840.1.113883.4.1&ISO^SS"),
            "PV1|1|O",
        ),
    )
    assert (ack.code, ack.control_id, ack.errors) == ("AA", "ADT-1", [])
    (patient,) = await _patients(client)
    assert patient["sex"] == "female" and patient["birth_date"] == "2004-02-20"
    assert sorted((i["system"], i["value"]) for i in patient["identifiers"]) == [  # type: ignore[attr-defined]
        ("urn:oid:2.16.840.1.113883.4.1", "123-45-6789"),
        ("urn:test:mrn", "MRN-1"),
    ]
    assert "Doe" not in str(patient) and "Jane" not in str(patient)  # names are not stored
    async with get_sessionmaker()() as session:
        log = await session.scalar(select(EventLog))
    assert log is not None and (log.source, log.event_id, log.type) == (
        "BCCH",
        "ADT-1",
        "patient.registered",
    )


async def test_a_duplicate_message_is_acknowledged_aa_without_a_second_effect(
    client: AsyncClient,
) -> None:
    text = message(
        msh("ORU^R01^ORU_R01", "ORU-7"),
        pid(),
        "OBR|1|||72514-3^^LN|||20190302100000+0000",
        obx(1, "72514-3", "6", "20190302100000+0000"),
        obx(2, "89243-0", "70", "20190302100000+0000"),
    )
    first = await send(client, text)
    second = await send(client, text)
    assert (first.code, second.code) == ("AA", "AA")
    assert "2 created" in first.raw and "2 replayed" in second.raw
    assert await count(FollowUpEvent) == 2
    assert await count(Patient) == 1
    assert await count(EventLog) == 2
    async with get_sessionmaker()() as session:
        ids = sorted((await session.scalars(select(EventLog.event_id))).all())
    assert ids == ["ORU-7/1", "ORU-7/2"]


async def test_scores_map_by_loinc_with_site_and_scale(client: AsyncClient) -> None:
    at = "20190303100000+0000"
    ack = await send(
        client,
        message(
            msh("ORU^R01", "ORU-8"),
            pid(),
            obx(1, "72514-3", "4", at, site="^Leg pain^L"),
            obx(2, "38208-5", "55", at, unit="mm"),
            obx(3, "97908-8", "28", at),
            "OBX|4|NM|C38144^Lansky^NCIT||60||||||F|||" + at,
        ),
    )
    assert ack.code == "AA", ack.raw
    follow_ups = (await client.get("/api/v1/follow-ups")).json()["items"]
    got = sorted((f["kind"], f.get("scale"), f.get("score"), f.get("site")) for f in follow_ups)
    assert ("pain", "nrs11", 4, "leg") in got
    assert ("pain", "vas", 5.5, "back") in got  # 55 mm, stored on the 0-10 scale
    assert len(got) == 4, got


async def test_a_wrong_code_system_is_ae_naming_the_field(client: AsyncClient) -> None:
    ack = await send(
        client,
        message(
            msh("ORU^R01", "ORU-9"), pid(), obx(1, "72514-3", "5", "20190303100000", system="SNM")
        ),
    )
    assert ack.code == "AE"
    ((location, code, text),) = ack.errors
    assert (location, code) == ("OBX^1^3^1^3", "103") and "SNM" in text
    assert await count(FollowUpEvent) == 0 and await count(Patient) == 0


async def test_an_unknown_loinc_code_is_ae(client: AsyncClient) -> None:
    ack = await send(
        client, message(msh("ORU^R01", "ORU-10"), pid(), obx(1, "8867-4", "80", "20190303"))
    )
    assert ack.code == "AE" and ack.errors[0][:2] == ("OBX^1^3^1^1", "103")


async def test_an_out_of_range_score_is_ae_and_the_message_stores_nothing(
    client: AsyncClient,
) -> None:
    at = "20190303100000+0000"
    ack = await send(
        client,
        message(
            msh("ORU^R01", "ORU-11"), pid(), obx(1, "72514-3", "5", at), obx(2, "72514-3", "11", at)
        ),
    )
    assert ack.code == "AE", ack.raw
    assert [e[0] for e in ack.errors] == ["OBX^2^5"]
    assert await count(FollowUpEvent) == 0 and await count(EventLog) == 0


async def test_a_bad_birth_date_is_ae_at_pid_7(client: AsyncClient) -> None:
    ack = await send(client, message(msh("ADT^A08", "ADT-2"), pid(birth="2004022")))
    assert ack.code == "AE" and ack.errors[0][:2] == ("PID^1^7", "102")


async def test_an_unsupported_message_type_is_ar(client: AsyncClient) -> None:
    ack = await send(client, message(msh("SIU^S12", "SIU-1"), pid()))
    assert (ack.code, ack.control_id) == ("AR", "SIU-1")
    assert ack.errors[0][:2] == ("MSH^1^9^1^1", "200")
    ack = await send(client, message(msh("ADT^A02", "ADT-9"), pid()))
    assert ack.code == "AR" and ack.errors[0][:2] == ("MSH^1^9^1^2", "201")


async def test_not_hl7_at_all_is_ar(client: AsyncClient) -> None:
    ack = await send(client, "hello")
    assert ack.code == "AR" and ack.control_id == ""


async def test_media_types_and_scope(client: AsyncClient, scoped_client: ScopedClient) -> None:
    text = message(msh("ADT^A04", "ADT-3"), pid())
    assert (await send(client, text, "application/hl7-v2")).code == "AA"
    refused = await client.post(
        URL, content=text.encode(), headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 415
    async with scoped_client("cases:read") as reader:
        denied = await reader.post(URL, content=text.encode(), headers={"Content-Type": ER7})
    assert denied.status_code == 403
    async with scoped_client("events:write") as writer:
        assert (await send(writer, message(msh("ADT^A08", "ADT-4"), pid()))).code == "AA"


async def test_the_same_control_id_with_other_content_is_ae_205(client: AsyncClient) -> None:
    at = "20190303100000+0000"
    first = await send(client, message(msh("ORU^R01", "ORU-12"), pid(), obx(1, "72514-3", "5", at)))
    changed = await send(
        client, message(msh("ORU^R01", "ORU-12"), pid(), obx(1, "72514-3", "6", at))
    )
    assert (first.code, changed.code) == ("AA", "AE")
    assert changed.errors[0][1] == "205" and "ORU-12/1" in changed.errors[0][2]
    (score,) = (await client.get("/api/v1/follow-ups")).json()["items"]
    assert score["score"] == 5


async def test_a_message_is_audited_with_the_patient_it_touched(client: AsyncClient) -> None:
    await send(client, message(msh("ADT^A04", "AUD-1"), pid()))
    async with get_sessionmaker()() as session:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.route == URL))).all()
        patient_id = await session.scalar(select(Patient.id))
    assert [r.patient_id for r in rows] == [patient_id]
    assert rows[0].credential_label and rows[0].status_code == 200
