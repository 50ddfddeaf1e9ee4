"""Building HL7 v2 messages and reading ACKs in the tests (with python-hl7, as the app does)."""

from dataclasses import dataclass

import hl7
from httpx import AsyncClient

ER7 = "x-application/hl7-v2+er7"
URL = "/hl7/v2"
# the MRN's assigning authority as a URI (HD universal id type URI): the JSON door's system
MRN_SYSTEM = "urn:test:mrn"
MRN_AUTHORITY = f"&{MRN_SYSTEM}&URI"


def msh(
    kind: str, control_id: str, *, facility: str = "BCCH", at: str = "20190301090000+0000"
) -> str:
    return f"MSH|^~\\&|EPIC|{facility}|VERTEBRO|VERTEBRO|{at}||{kind}|{control_id}|P|2.5.1"


def pid(mrn: str = "MRN-1", extra: str = "", *, birth: str = "20040220", sex: str = "F") -> str:
    return f"PID|1||{mrn}^^^{MRN_AUTHORITY}^MR{extra}||Doe^Jane||{birth}|{sex}"


def obx(
    set_id: int,
    code: str,
    value: str,
    at: str,
    *,
    system: str = "LN",
    site: str = "",
    unit: str = "{score}",
) -> str:
    fields = [
        "OBX",
        str(set_id),
        "NM",
        f"{code}^^{system}",
        "",
        value,
        unit,
        "",
        "",
        "",
        "",
        "F",
        "",
        "",
        at,
    ]
    fields += ["", "", "", "", "", site]
    return "|".join(fields)


def message(*segments: str, sep: str = "\r") -> str:
    return sep.join(segments) + sep


@dataclass
class Ack:
    code: str
    control_id: str
    errors: list[tuple[str, str, str]]  # (location, table 0357 code, text)
    raw: str


def read_ack(text: str) -> Ack:
    parsed = hl7.parse(text.replace("\n", "\r").strip())
    msa = parsed.segment("MSA")
    errors = (
        [
            (str(err[2]), parsed.unescape(str(err[3][0][0])), parsed.unescape(str(err[8])))
            for err in parsed.segments("ERR")
        ]
        if any(str(s[0]) == "ERR" for s in parsed)
        else []
    )
    assert str(parsed.segment("MSH")[9]).startswith("ACK")
    return Ack(str(msa[1]), str(msa[2]), errors, text)


async def send(client: AsyncClient, text: str, content_type: str = ER7) -> Ack:
    response = await client.post(URL, content=text.encode(), headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(ER7)
    ack = read_ack(response.text)
    assert response.headers["HL7-Ack-Code"] == ack.code
    return ack
