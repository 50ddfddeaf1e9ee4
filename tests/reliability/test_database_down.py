"""An unreachable database is a quick 503 problem, never a 500 or a hang."""

from collections.abc import AsyncIterator

from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import build_engine, get_session
from app.main import create_app

DEAD = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"  # port 9: nothing listens


async def test_unreachable_database_is_503_problem(client: AsyncClient) -> None:
    app = create_app()
    dead_engine = build_engine(DEAD)

    async def dead_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(dead_engine) as session:
            yield session

    app.dependency_overrides[get_session] = dead_session
    headers = dict(client.headers)
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=headers
    ) as dead_client:
        response = await dead_client.get("/api/v1/patients")
    await dead_engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "/problems/unavailable"
