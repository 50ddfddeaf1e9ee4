"""Reading an ER7 message with python-hl7 (`hl7` on the package index): segments, fields,
repetitions and components by position, unescaped (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\), and where each
value came from in HL7 location form (ERL: segment^sequence^field^repetition^component)."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

import hl7

AckCode = Literal["AA", "AE", "AR"]

# HL7 table 0357 (message error condition codes)
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
UNKNOWN_KEY = "204"
DUPLICATE_KEY = "205"
INTERNAL_ERROR = "207"
SEGMENT_SEQUENCE_ERROR = "100"
CODE_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}


@dataclass(frozen=True)
class Issue:
    """One ERR segment: where (ERL), the table 0357 code, and the text a person reads."""

    location: str
    code: str
    text: str


class V2Error(Exception):
    """The message is refused: AR (cannot be processed at all) or AE (its content is wrong)."""

    def __init__(self, ack: AckCode, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.text for i in issues))
        self.ack = ack
        self.issues = issues


def refuse(ack: AckCode, location: str, code: str, text: str) -> V2Error:
    return V2Error(ack, [Issue(location, code, text)])


def normalise(raw: str) -> str:
    """Segments end with \\r in the standard; many senders and files use \\n or \\r\\n."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c ")
    return "\r".join(line for line in text.split("\r") if line.strip())


@dataclass
class Segment:
    name: str
    sequence: int  # 1-based among the message's segments of this name
    raw: hl7.Segment
    message: hl7.Message

    def where(self, field: int, rep: int | None = None, comp: int | None = None) -> str:
        parts = [self.name, str(self.sequence), str(field)]
        if comp is not None:
            parts += [str(rep or 1), str(comp)]
        return "^".join(parts)

    def repetitions(self, field: int) -> int:
        if field >= len(self.raw) or str(self.raw[field]) == "":
            return 0
        value = self.raw[field]
        return len(value) if isinstance(value, hl7.Field) and value else 1

    def get(self, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
        """The unescaped value at that position; '' when absent."""
        if field >= len(self.raw) or rep > max(1, self.repetitions(field)):
            return ""
        try:
            value = self.message.extract_field(self.name, self.sequence, field, rep, comp, sub)
        except (IndexError, KeyError):
            return ""
        return str(value).strip()


class Message:
    def __init__(self, raw: str) -> None:
        text = normalise(raw)
        if not text.startswith("MSH"):
            raise refuse("AR", "MSH^1", SEGMENT_SEQUENCE_ERROR, "The message must start with MSH.")
        try:
            self.parsed = hl7.parse(text)
        except Exception as exc:  # the parser's own errors: the message is not ER7
            raise refuse(
                "AR", "MSH^1", DATA_TYPE_ERROR, f"Not an HL7 v2 ER7 message: {exc}"
            ) from None
        self.segments: list[Segment] = []
        counts: dict[str, int] = {}
        for seg in self.parsed:
            name = str(seg[0]).strip()
            counts[name] = counts.get(name, 0) + 1
            self.segments.append(Segment(name, counts[name], seg, self.parsed))
        self.msh = self.segments[0]

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        found = self.all(name)
        return found[0] if found else None

    def require(self, name: str) -> Segment:
        seg = self.first(name)
        if seg is None:
            raise refuse(
                "AE", f"{name}^1", SEGMENT_SEQUENCE_ERROR, f"The {name} segment is missing."
            )
        return seg


_DTM = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?:\.\d{1,4})?(?P<tz>[+-]\d{4})?$"
)


def parse_datetime(value: str, where: str, zone: str) -> datetime:
    """An HL7 DTM (YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]); without an offset, in `zone`
    (REGISTRY_TIME_ZONE). A date alone is taken at midnight."""
    match = _DTM.match(value)
    if match is None or match["d"] is None:
        raise refuse("AE", where, DATA_TYPE_ERROR, f"{value!r} is not an HL7 date/time (DTM).")
    tz: tzinfo = ZoneInfo(zone)
    if match["tz"]:
        sign = -1 if match["tz"][0] == "-" else 1
        minutes = int(match["tz"][1:3]) * 60 + int(match["tz"][3:5])
        tz = timezone(sign * timedelta(minutes=minutes))
    try:
        moment = datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        raise refuse("AE", where, DATA_TYPE_ERROR, f"{value!r} is not a valid date.") from None
    return moment.astimezone(UTC)


def parse_date(value: str, where: str) -> date:
    match = _DTM.match(value)
    if match is None or match["d"] is None:
        raise refuse("AE", where, DATA_TYPE_ERROR, f"{value!r} is not an HL7 date (YYYYMMDD).")
    try:
        return date(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        raise refuse("AE", where, DATA_TYPE_ERROR, f"{value!r} is not a valid date.") from None
