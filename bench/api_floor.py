"""The floor `bench/api.py` compares against: bare FastAPI + asyncpg, no auth, no ORM, no validation.

    DATABASE_URL=postgresql://127.0.0.1/db uvicorn bench.api_floor:app

`GET /flows/{id}` is one `SELECT … WHERE id=$1` on an asyncpg pool, the row returned as JSON.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI

COLUMNS = "id, team_id, name, description, version, status, trigger, edges, actions, variables, created_at, updated_at"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/flows/{flow_id}")
async def one_flow(flow_id: str) -> dict[str, Any]:
    async with app.state.pool.acquire() as connection:
        row = await connection.fetchrow(f"SELECT {COLUMNS} FROM hog_flows WHERE id=$1::uuid", flow_id)
    return dict(row) if row else {}
