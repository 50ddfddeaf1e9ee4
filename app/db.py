"""Engine, session factory and the request-scoped session (one request, one transaction)."""

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.clinical.dialect import register_sqlite_functions
from app.config import get_settings

log = logging.getLogger(__name__)
_AFTER_COMMIT = "after_commit"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def build_engine(
    url: str, *, echo: bool = False, statement_timeout_ms: int | None = None
) -> AsyncEngine:
    """`statement_timeout_ms`: for long maintenance commands (default: the request setting)."""
    settings = get_settings()
    timeout_ms = statement_timeout_ms or settings.db_statement_timeout_ms
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **_JSON_CODEC)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args={
            "timeout": settings.db_connect_timeout_s,
            "command_timeout": timeout_ms / 1000 + 5,
            "server_settings": {"statement_timeout": str(timeout_ms)},
        },
        **_JSON_CODEC,
    )


def _json_dumps(value: Any) -> str:
    """orjson: a tenth of json.dumps's cost, and every event writes its payload and result;
    the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def _json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. a NaN that json.dumps wrote
        return json.loads(text)


_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every new SQLite connection: its pragmas, and the clinical-day functions the SQL calls
    (every SQLite engine is built here, the CLI's, the tests' and bench's included)."""
    register_sqlite_functions(dbapi_connection)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache
def get_engine() -> AsyncEngine:
    settings = get_settings()
    return build_engine(settings.database_url, echo=settings.database_echo)


@lru_cache
def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(), expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` once the session's transaction has committed through `commit` (never if it
    rolls back). Its failure is logged, not raised: what committed stands. (The imaging
    triggers' evaluation, app/triggers/marks.py, registers itself so for every transaction
    that changes a patient's history.)"""
    session.info.setdefault(_AFTER_COMMIT, []).append(work)


def take_after_commit(session: AsyncSession) -> list[Callable[[], Awaitable[None]]]:
    """The work registered with `after_commit`, for the caller to run once committed."""
    works: list[Callable[[], Awaitable[None]]] = session.info.pop(_AFTER_COMMIT, [])
    return works


async def run_after_commit(works: Iterable[Callable[[], Awaitable[None]]]) -> None:
    for work in works:
        try:
            await work()
        except Exception:
            log.warning("work after a commit failed", exc_info=True)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the work registered with `after_commit`."""
    await session.commit()
    await run_after_commit(take_after_commit(session))


async def get_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: commits when the handler returns (then runs what `after_commit`
    registered, before the response), rolls back on any error."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            session.info.pop(_AFTER_COMMIT, None)
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit is
# never acknowledged to the client as a success (the default scope commits afterwards).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
