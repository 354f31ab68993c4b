"""Send records of function steps: one row per request, written before it goes out (at most once per run)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import json_codec
from app.db.models import HogFlowSend

PENDING = "pending"
DONE = "done"

SendKeyRow = tuple[UUID, str, int, int]

# The worker's statements on PostgreSQL, run on the asyncpg connection (`app.db.session.driver_connection`):
# arrays in, so each is one prepared statement whatever the batch size.
_CLAIM_PG = """
INSERT INTO hog_flow_sends (run_id, action_id, attempt, call_index, kind, status, created_at)
SELECT run_id, action_id, attempt, call_index, kind, 'pending', $6
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[])
  AS c(run_id, action_id, attempt, call_index, kind)
ON CONFLICT DO NOTHING
RETURNING run_id, action_id, attempt, call_index
"""
_EXISTING_PG = """
SELECT s.run_id, s.action_id, s.attempt, s.call_index, s.status, s.response
FROM hog_flow_sends s
JOIN unnest($1::uuid[], $2::text[], $3::int[], $4::int[]) AS c(run_id, action_id, attempt, call_index)
  ON (s.run_id, s.action_id, s.attempt, s.call_index) = (c.run_id, c.action_id, c.attempt, c.call_index)
"""


def send_rows_sql(first: int) -> str:
    """Rows `(tid, response)`: each send record's row by its key, from the five arrays numbered from `first`
    (run ids, action ids, attempts, call indexes, responses). One probe of the key's index per send, whatever the
    plan cached with the statement assumes of the table's size; by `ctid`, as the row is updated in the same
    statement. A row updated meanwhile is left as it is (pending: never sent again)."""
    arrays = ", ".join(f"${first + i}::{kind}[]" for i, kind in enumerate(("uuid", "text", "int", "int", "text")))
    return f"""
  SELECT x.tid, c.response FROM unnest({arrays}) AS c(run_id, action_id, attempt, call_index, response)
  CROSS JOIN LATERAL (
    SELECT ctid AS tid FROM hog_flow_sends
    WHERE (run_id, action_id, attempt, call_index) = (c.run_id, c.action_id, c.attempt, c.call_index) LIMIT 1
  ) x"""


_COMPLETE_PG = f"""
UPDATE hog_flow_sends s SET status = 'done', response = c.response::jsonb, completed_at = $6
FROM ({send_rows_sql(1)}) AS c
WHERE s.ctid = c.tid
"""


async def claim_many_pg(
    connection: Any, claims: Sequence[tuple[UUID, str, int, int, str]], now: datetime
) -> dict[SendKeyRow, HogFlowSend | None]:
    """`SendRepository.claim_many` on an asyncpg connection (autocommit: durable when it returns)."""
    if not claims:
        return {}
    columns = list(zip(*claims, strict=True))
    inserted = await connection.fetch(_CLAIM_PG, *columns, now)
    ours = {(row[0], row[1], row[2], row[3]) for row in inserted}
    answers: dict[SendKeyRow, HogFlowSend | None] = {key: None for key in ours}
    others = [claim[:4] for claim in claims if claim[:4] not in ours]
    if others:
        for row in await connection.fetch(_EXISTING_PG, *zip(*others, strict=True)):
            send = HogFlowSend(
                run_id=row[0], action_id=row[1], attempt=row[2], call_index=row[3], status=row[4], response=row[5]
            )
            answers[(row[0], row[1], row[2], row[3])] = send
    return answers


async def complete_many_pg(connection: Any, completions: list[dict[str, Any]], now: datetime) -> None:
    """`SendRepository.complete_many` on an asyncpg connection, in the caller's transaction."""
    if not completions:
        return
    keys = ("run_id", "action_id", "attempt", "call_index")
    columns = [[item[key] for item in completions] for key in keys]
    responses = [json_codec.dumps(item["response"]).decode() for item in completions]
    await connection.execute(_COMPLETE_PG, *columns, responses, now)


class SendRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self, *, run_id: UUID, action_id: str, attempt: int, call_index: int, kind: str, now: datetime
    ) -> HogFlowSend | None:
        """Insert a pending row; None when it is ours, else the row an earlier attempt left (pending or done).

        `ON CONFLICT DO NOTHING` on the unique key makes two concurrent claims safe: one inserts, the
        other reads the winner's row.
        """
        claimed = await self.claim_many([(run_id, action_id, attempt, call_index, kind)], now)
        return claimed[(run_id, action_id, attempt, call_index)]

    async def claim_many(
        self, claims: Sequence[tuple[UUID, str, int, int, str]], now: datetime
    ) -> dict[tuple[UUID, str, int, int], HogFlowSend | None]:
        """`claim` for several sends in two statements at most: each (run_id, action_id, attempt, call_index,
        kind) maps to None when its pending row is ours, else the row an earlier attempt left."""
        if not claims:
            return {}
        rows = [
            {
                "run_id": run_id,
                "action_id": action_id,
                "attempt": attempt,
                "call_index": call_index,
                "kind": kind,
                "status": PENDING,
                "created_at": now,
            }
            for run_id, action_id, attempt, call_index, kind in claims
        ]
        insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        key_columns = (HogFlowSend.run_id, HogFlowSend.action_id, HogFlowSend.attempt, HogFlowSend.call_index)
        statement = insert(HogFlowSend).values(rows).on_conflict_do_nothing().returning(*key_columns)
        ours = {tuple(row) for row in (await self.session.execute(statement)).all()}
        answers: dict[tuple[UUID, str, int, int], HogFlowSend | None] = {key: None for key in ours}  # type: ignore[misc]
        others = [claim[:4] for claim in claims if claim[:4] not in ours]
        if others:
            existing = await self.session.execute(select(HogFlowSend).where(tuple_(*key_columns).in_(others)))
            for send in existing.scalars():
                answers[(send.run_id, send.action_id, send.attempt, send.call_index)] = send
        return answers

    async def complete(
        self, *, run_id: UUID, action_id: str, attempt: int, call_index: int, response: Any, now: datetime
    ) -> None:
        await self.session.execute(
            update(HogFlowSend)
            .where(
                HogFlowSend.run_id == run_id,
                HogFlowSend.action_id == action_id,
                HogFlowSend.attempt == attempt,
                HogFlowSend.call_index == call_index,
            )
            .values(status=DONE, response=response, completed_at=now)
        )

    async def complete_many(self, completions: list[dict[str, Any]], now: datetime) -> None:
        """Mark several sends done at once; each item: run_id, action_id, attempt, call_index, response."""
        if not completions:
            return
        table = cast(Table, HogFlowSend.__table__)
        statement = (
            update(table)
            .where(
                table.c.run_id == bindparam("key_run_id"),
                table.c.action_id == bindparam("key_action_id"),
                table.c.attempt == bindparam("key_attempt"),
                table.c.call_index == bindparam("key_call_index"),
            )
            .values(status=DONE, response=bindparam("new_response"), completed_at=now)
        )
        rows = [{f"key_{k}": v for k, v in item.items() if k != "response"} for item in completions]
        for row, item in zip(rows, completions, strict=True):
            row["new_response"] = item["response"]
        connection = await self.session.connection()
        await connection.execute(statement, rows)

    async def list_for_run(self, run_id: UUID) -> list[HogFlowSend]:
        rows = await self.session.execute(
            select(HogFlowSend).where(HogFlowSend.run_id == run_id).order_by(HogFlowSend.id)
        )
        return list(rows.scalars())
