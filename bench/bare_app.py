"""The benchmarks' baseline: a bare FastAPI app using the same driver (SQLAlchemy async +
asyncpg) and server (uvicorn) as the registry, and nothing else (no validation, auth or log).
Ingestion: one INSERT per request (it takes the same event body and stores it as JSON). Case
retrieval: one patient row read by primary key."""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, FastAPI, HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ.get("DATABASE_URL", ""), pool_size=10, max_overflow=20)
INSERT = text(
    "INSERT INTO bare_events (id, source, event_id, payload) "
    "VALUES (:id, :source, :event_id, CAST(:payload AS jsonb))"
)
SELECT_PATIENT = text("SELECT * FROM patients WHERE id = :id")


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bare_events (id uuid PRIMARY KEY, source text, "
                "event_id text, payload jsonb, received_at timestamptz DEFAULT now())"
            )
        )
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/events", status_code=201)
async def insert(body: dict[str, Any] = Body()) -> dict[str, str]:
    new = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            INSERT,
            {
                "id": new,
                "source": body.get("source"),
                "event_id": body.get("event_id"),
                "payload": json.dumps(body),
            },
        )
    return {"id": str(new)}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/patients/{patient_id}")
async def read_patient(patient_id: uuid.UUID) -> dict[str, Any]:
    """The case benchmark's baseline: one row by primary key, as JSON."""
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT_PATIENT, {"id": patient_id})).mappings().one_or_none()
    if row is None:
        raise HTTPException(404)
    return dict(row)
