"""The ACK answered to every message (ER7): MSH, MSA (AA / AE / AR, MSA-2 = the message's
MSH-10) and one ERR per problem (ERR-2 location in HL7 form, ERR-3 code from HL7 table 0357,
ERR-4 severity E, ERR-8 the text a person reads)."""

import uuid
from datetime import UTC, datetime

from app.hl7.reader import CODE_TEXT, AckCode, Issue, Message

APPLICATION = "VERTEBRO"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def escape(text: str) -> str:
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def _hd(msg: Message | None, field: int) -> str:
    """MSH-3/MSH-4 of the message, as they were sent (already ER7)."""
    if msg is None or field >= len(msg.msh.raw):
        return ""
    return str(msg.msh.raw[field])


def build(msg: Message | None, code: AckCode, issues: list[Issue], text: str = "") -> str:
    """The ACK, segments separated by \\r. Without a readable MSH, MSA-2 is empty."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    trigger = msg.msh.get(9, 1, 2) if msg is not None else ""
    control = msg.msh.get(10) if msg is not None else ""
    version = (msg.msh.get(12) if msg is not None else "") or "2.5"
    processing = (msg.msh.get(11) if msg is not None else "") or "P"
    msh = [
        "MSH",
        "^~\\&",
        APPLICATION,
        APPLICATION,
        _hd(msg, 3),
        _hd(msg, 4),
        now,
        "",
        f"ACK^{escape(trigger)}^ACK" if trigger else "ACK",
        uuid.uuid4().hex[:20],
        escape(processing),
        escape(version),
    ]
    segments = ["|".join(msh), "|".join(["MSA", code, escape(control), escape(text)])]
    for issue in issues:
        err_code = f"{issue.code}^{CODE_TEXT.get(issue.code, '')}^HL70357"
        segments.append(
            "|".join(["ERR", "", issue.location, err_code, "E", "", "", "", escape(issue.text)])
        )
    return "\r".join(segments) + "\r"
