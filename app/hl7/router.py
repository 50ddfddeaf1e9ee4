"""POST /hl7/v2: one HL7 v2 message (ER7) in, its ACK out.

Every ACK (AA, AE or AR) is answered HTTP 200: integration engines (Mirth/NextGen Connect,
Rhapsody, Cloverleaf) read MSA-1 to decide whether to resend or queue; a 4xx would make them
treat a content error as a transport failure and retry it forever. Only a refused credential
(401/403) or a wrong Content-Type (415) is answered with another status (problem+json).
"""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.audit.dependencies import AuditDep
from app.db import SessionDep
from app.errors import problem_responses
from app.hl7 import service
from app.http.guards import EventsWrite
from app.ingestion.router import UnsupportedMediaType

ER7 = "x-application/hl7-v2+er7"
# text/plain: what many engines send by default (Mirth's HTTP Sender among them)
ACCEPTED_MEDIA = frozenset({ER7, "application/hl7-v2", "application/hl7-v2+er7", "text/plain"})

router = APIRouter(prefix="/hl7", tags=["hl7v2"])

EXAMPLE = (
    "MSH|^~\\&|EPIC|BCCH|VERTEBRO|VERTEBRO|20190219100500-0800||ORU^R01^ORU_R01|MSG00042|P|2.5\r"
    "PID|1||MRN-0042^^^&urn:example:bcch:mrn&URI^MR||||20050314|F\r"
    "OBR|1|||72514-3^Pain NRS^LN|||20190219100000-0800\r"
    "OBX|1|NM|72514-3^Pain severity 0-10^LN||5|{score}|||||F|||20190219100000-0800||||||back\r"
)


async def er7_body_only(request: Request, principal: EventsWrite) -> None:
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in ACCEPTED_MEDIA:
        raise UnsupportedMediaType(ER7)


def decode(raw: bytes) -> str:
    """UTF-8, else ISO-8859-1 (HL7 v2's usual default character set)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@router.post(
    "/v2",
    summary="Post one HL7 v2 message (ER7): ADT^A01/A03/A04/A08, ORU^R01, RDE^O11, RAS^O17",
    description="Answered with the ACK (ER7, HTTP 200 for AA, AE and AR alike). See docs/hl7v2.md "
    "for the profiles accepted, the field mapping and the exactly-once key (MSH-4 + MSH-10).",
    dependencies=[Depends(er7_body_only)],
    response_class=Response,
    responses={
        200: {"description": "The ACK (MSA-1 AA, AE or AR).", "content": {ER7: {"example": ""}}},
        **problem_responses(401, 403, 413, 415),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {ER7: {"schema": {"type": "string"}, "example": EXAMPLE}},
        }
    },
)
async def post_v2(
    principal: EventsWrite, request: Request, session: SessionDep, audit: AuditDep
) -> Response:
    reply = await service.handle(session, decode(await request.body()), principal.id)
    return Response(reply.text, media_type=ER7, headers={"HL7-Ack-Code": reply.code})
