"""Revision 0011 gives the procedures and observations that the FHIR door accepted before it
their senders' identifiers back, from the resources the event log kept as received."""

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from app.models.base import JSONType, UTCDateTime
from tests.migration_db import run_sync

AT = datetime(2019, 2, 12, 9, 30, tzinfo=UTC)


PATIENT, PROCEDURE, SCORE, GONE = (uuid.uuid4() for _ in range(4))


def _rows_before(conn: sa.Connection) -> None:
    """As 0010 stored them: a FHIR Procedure and Observation, an event of the JSON door, and a
    FHIR Observation whose record was retracted since."""
    uid = sa.Uuid()
    patients = sa.table("patients", sa.column("id", uid), sa.column("sex", sa.String()))
    conn.execute(patients.insert(), [{"id": PATIENT, "sex": "female"}])
    procedures = sa.table(
        "procedures",
        sa.column("id", uid),
        sa.column("patient_id", uid),
        sa.column("kind", sa.String()),
        sa.column("performed_at", UTCDateTime()),
        sa.column("external_source", sa.String()),
        sa.column("external_ref", sa.String()),
    )
    conn.execute(
        procedures.insert(),
        [
            {
                "id": PROCEDURE,
                "patient_id": PATIENT,
                "kind": "vertebroplasty",
                "performed_at": AT,
                "external_source": "urn:x:or",
                "external_ref": "R-1",
            }
        ],
    )
    follow_ups = sa.table(
        "follow_up_events",
        sa.column("id", uid),
        sa.column("patient_id", uid),
        sa.column("kind", sa.String()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("scale", sa.String()),
        sa.column("value", sa.Float()),
        sa.column("score", sa.Float()),
    )
    conn.execute(
        follow_ups.insert(),
        [
            {
                "id": SCORE,
                "patient_id": PATIENT,
                "kind": "pain",
                "occurred_at": AT,
                "scale": "nrs11",
                "value": 5,
                "score": 5,
            }
        ],
    )
    log = sa.table(
        "event_log",
        sa.column("id", uid),
        sa.column("source", sa.String()),
        sa.column("event_id", sa.String()),
        sa.column("type", sa.String()),
        sa.column("received_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("payload", JSONType),
        sa.column("status", sa.String()),
        sa.column("record_id", uid),
        sa.column("result", JSONType),
    )

    def row(event_id: str, type_: str, payload: dict[str, Any], record: uuid.UUID) -> Any:
        return {
            "id": uuid.uuid4(),
            "source": "urn:vertebro:fhir",
            "event_id": event_id,
            "type": type_,
            "received_at": AT,
            "updated_at": AT,
            "payload": payload,
            "status": "applied",
            "record_id": record,
            "result": {},
        }

    def ident(system: str, value: str) -> dict[str, str]:
        return {"system": system, "value": value}

    conn.execute(
        log.insert(),
        [
            row(
                "Procedure?identifier=urn:x:or|R-1",
                "procedure.performed",
                {
                    "resourceType": "Procedure",
                    "identifier": [ident("urn:x:or", "R-1"), ident("urn:x:s", "S-1")],
                },
                PROCEDURE,
            ),
            row(
                "Observation/1",
                "pain.scored",
                {
                    "resourceType": "Observation",
                    "identifier": [
                        ident("urn:vertebro:follow-up", str(SCORE)),  # the registry's own
                        ident("urn:x:obs", "O-1"),
                        {"value": "no system"},
                    ],
                },
                SCORE,
            ),
            row(
                "Observation/2",
                "pain.scored",
                {"resourceType": "Observation", "identifier": [ident("urn:x:obs", "O-2")]},
                GONE,
            ),
            {
                **row("evt-1", "pain.scored", {"data": {"value": 5}}, SCORE),
                "source": "urn:test:epic",
            },
        ],
    )


def _identifiers(conn: sa.Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        sa.text(
            "SELECT resource_type, system, value, position, procedure_id, follow_up_id "
            "FROM resource_identifiers ORDER BY resource_type, position"
        )
    ).all()
    return [
        (
            *r[:4],
            r[4] is not None and uuid.UUID(str(r[4])),
            r[5] is not None and uuid.UUID(str(r[5])),
        )
        for r in rows
    ]


def test_identifiers_accepted_before_are_filled_in(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "0010")
    run_sync(scratch_url, _rows_before)
    command.upgrade(config, "0011")
    assert run_sync(scratch_url, _identifiers) == [
        ("Observation", "urn:x:obs", "O-1", 0, False, SCORE),
        ("Procedure", "urn:x:or", "R-1", 0, PROCEDURE, False),
        ("Procedure", "urn:x:s", "S-1", 1, PROCEDURE, False),
    ]
    command.downgrade(config, "0010")
    command.upgrade(config, "heads")
