"""Messages as different senders write them: segment separators, escapes, repetitions,
Z-segments, missing optional fields; death, discharge and medication messages."""

from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import EventLog, FollowUpEvent, Patient
from tests.hl7.helpers import MRN_AUTHORITY, message, msh, obx, pid, send
from tests.ingestion.helpers import count


async def _follow_ups(client: AsyncClient) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await client.get("/api/v1/follow-ups")).json()["items"]
    return items


async def test_escape_sequences_are_unescaped_in_what_is_stored(client: AsyncClient) -> None:
    mrn = r"MRN\T\7\S\x\R\y\E\z\F\q"
    ack = await send(
        client, message(msh("ADT^A04", "E-1"), f"PID|1||{mrn}^^^{MRN_AUTHORITY}^MR||||20040220|M")
    )
    assert ack.code == "AA", ack.raw
    (patient,) = (await client.get("/api/v1/patients")).json()["items"]
    assert patient["identifiers"] == [{"system": "urn:test:mrn", "value": "MRN&7^x~y\\z|q"}]
    assert patient["sex"] == "male"


async def test_newline_separators_and_a_facility_with_a_universal_id(client: AsyncClient) -> None:
    """Cerner-like: \\n between segments, MSH-4 an HD with an OID; the source is its namespace."""
    text = message(
        msh("ORU^R01^ORU_R01", "C-1", facility="BCCH^2.16.840.1.113883.3.999^ISO"),
        pid(),
        obx(1, "57696-7", "4", "20190304120000+0000"),
        sep="\n",
    )
    ack = await send(client, text)
    assert ack.code == "AA", ack.raw
    async with get_sessionmaker()() as session:
        log = await session.scalar(select(EventLog))
    assert log is not None and (log.source, log.event_id) == ("BCCH", "C-1/1")
    ((kind, scale),) = [(f["kind"], f["scale"]) for f in await _follow_ups(client)]
    assert (kind, scale) == ("pain", "fps_r")


async def test_crlf_z_segments_and_missing_optional_fields(client: AsyncClient) -> None:
    """Meditech-like: \\r\\n, a Z-segment, no EVN, no PV1, no birth date or sex, no time zone."""
    text = message(
        msh("ADT^A08", "M-1", at="20190305083000"),
        f"PID|||MRN-9^^^{MRN_AUTHORITY}",
        "ZPD|1|whatever^the^vendor|adds",
        sep="\r\n",
    )
    ack = await send(client, text)
    assert ack.code == "AA", ack.raw
    (patient,) = (await client.get("/api/v1/patients")).json()["items"]
    assert patient["sex"] == "unknown" and patient["birth_date"] is None
    async with get_sessionmaker()() as session:
        log = await session.scalar(select(EventLog))
    assert log is not None and log.occurred_at.isoformat().startswith("2019-03-05T08:30:00")


async def test_a_missing_assigning_authority_is_ae_at_pid_3_4(client: AsyncClient) -> None:
    ack = await send(client, message(msh("ADT^A04", "N-1"), "PID|1||MRN-1^^^^MR||||20040220|F"))
    assert ack.code == "AE" and ack.errors[0][:2] == ("PID^1^3^1^4", "101")
    assert await count(Patient) == 0


async def test_a_missing_control_id_is_ar(client: AsyncClient) -> None:
    text = message("MSH|^~\\&|EPIC|BCCH|V|V|20190301||ADT^A04|||2.5", pid())
    ack = await send(client, text)
    assert ack.code == "AR" and ack.errors[0][:2] == ("MSH^1^10", "101")


async def test_a_death_in_pid_29_30_records_the_death(client: AsyncClient) -> None:
    text = message(
        msh("ADT^A03", "D-1"),
        "EVN|A03|20190601090000+0000",
        pid() + "|||||||||||||||||||||20190531220000+0000|Y",
    )
    ack = await send(client, text)
    assert ack.code == "AA", ack.raw
    ((kind, at),) = [(f["kind"], f["occurred_at"]) for f in await _follow_ups(client)]
    assert (kind, at) == ("death", "2019-05-31T22:00:00Z")
    async with get_sessionmaker()() as session:
        ids = (await session.scalars(select(EventLog.event_id))).all()
    assert list(ids) == ["D-1/death"]


async def test_a_discharge_without_death_records_nothing(client: AsyncClient) -> None:
    ack = await send(client, message(msh("ADT^A03", "D-2"), "EVN|A03|20190601090000+0000", pid()))
    assert ack.code == "AA" and "nothing to record" in ack.raw
    assert await count(Patient) == 0 and await count(EventLog) == 0


async def test_death_indicator_without_a_date_is_ae(client: AsyncClient) -> None:
    ack = await send(client, message(msh("ADT^A08", "D-3"), pid() + "||||||||||||||||||||||Y"))
    assert ack.code == "AE" and ack.errors[0][:2] == ("PID^1^29", "101")


async def test_an_administration_ras_o17_records_the_medication(client: AsyncClient) -> None:
    text = message(
        msh("RAS^O17^RAS_O17", "R-1"),
        pid(),
        "ORC|RE|ORD-1",
        "RXA|0|1|20190306080000+0000||7052^Morphine^RXNORM|5|mg",
        "RXR|PO",
        "RXA|0|2|20190306140000+0000||7052^Morphine^RXNORM|5|mg|||||||||||||RE",
    )
    ack = await send(client, text)
    assert ack.code == "AA", ack.raw
    (med,) = await _follow_ups(client)
    assert (med["kind"], med["drug"], med["dose"], med["dose_unit"], med["route"]) == (
        "medication",
        "morphine",
        5,
        "mg",
        "oral",
    )


async def test_an_order_rde_o11_with_its_timing(client: AsyncClient) -> None:
    text = message(
        msh("RDE^O11^RDE_O11", "R-2"),
        pid(),
        "ORC|NW|ORD-2|||||||20190307090000+0000",
        "TQ1|1||Q6H",
        "RXE||7804^Oxycodone^RXNORM|2.5||mg",
        "RXR|PO",
    )
    ack = await send(client, text)
    assert ack.code == "AA", ack.raw
    (med,) = await _follow_ups(client)
    assert (med["drug"], med["dose"], med["doses_per_day"], med["occurred_at"]) == (
        "oxycodone",
        2.5,
        4,
        "2019-03-07T09:00:00Z",
    )


async def test_an_unknown_dose_unit_is_ae_at_rxa_7(client: AsyncClient) -> None:
    text = message(
        msh("RAS^O17", "R-3"), pid(), "RXA|0|1|20190306080000+0000||7052^Morphine^RXNORM|5|tablet"
    )
    ack = await send(client, text)
    assert ack.code == "AE" and ack.errors[0][:2] == ("RXA^1^7", "103")
    assert await count(FollowUpEvent) == 0
