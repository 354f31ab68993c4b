"""Random filters over random (often hostile) property values: SQL and the VM must never disagree."""

import random
import uuid
from typing import Any

import pytest
from sqlalchemy import select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audiences import TeamContext, build_audience
from app.db.models import Person
from app.db.session import session_scope
from app.filters import FiltersCompileError
from app.services.bootstrap import bootstrap_tenant

STRINGS = [
    *["", "a", "A", "ab", "Ab", "pro", "PRO", "true", "false", "True", "null", "0", "1", "-1", "1.0", "1e3"],
    *[" 2 ", "+3", ".5", "5.", "0x10", "1_0", "inf", "-inf", "nan", "Infinity", "\u0661", "\u00a05", "é", "É"],
    *["ß", "\u212a", "İ", "a\nb", "a%b", "a_b", "\\", "%", "_", "2024-01-01", "9007199254740993", "1e309", "-0"],
]
NUMBERS = [0, 1, -1, 2, 10, 30, 1.5, -0.5, 1e20, 2**53 + 1, 0.1, 100.0, 1e-5]
OPERATORS = ["exact", "is_not", "icontains", "not_icontains", "regex", "not_regex", "gt", "gte", "lt", "lte"]
OPERATORS += ["in", "not_in", "is_set", "is_not_set", "between", "not_between"]
PATTERNS = ["^a", "b$", "[0-9]", r"\d+", "^.$", "a|b", "^$", r"\s", ".*", "p.o", "[A-Z]", "(?i)a", r"\."]
NEEDLES: list[Any] = ["a", "A", "%", "_", "rue", "nul", "1", "k", "é", "\\", ["a", "B"], "."]
MISSING = object()


def value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(STRINGS)
    if roll < 0.6:
        return rng.choice(NUMBERS)
    if roll < 0.7:
        return rng.choice([True, False])
    if roll < 0.78:
        return None
    if roll < 0.85:
        return rng.choice([[], [1], {"a": 1}, {}, ["a"]])
    return MISSING


def scalar(rng: random.Random) -> Any:
    roll = rng.random()
    return rng.choice(STRINGS) if roll < 0.5 else rng.choice(NUMBERS) if roll < 0.8 else rng.choice([True, False])


def prop(rng: random.Random) -> dict[str, Any]:
    operator = rng.choice(OPERATORS)
    if operator in ("in", "not_in"):
        compared: Any = [scalar(rng) for _ in range(rng.randint(1, 3))]
    elif operator in ("between", "not_between"):
        compared = sorted([rng.randint(-5, 40), rng.randint(-5, 40)])
    elif operator in ("regex", "not_regex"):
        compared = rng.choice(PATTERNS)
    elif operator in ("icontains", "not_icontains"):
        compared = rng.choice(NEEDLES)
    else:
        compared = scalar(rng)
    return {"key": "v", "value": compared, "type": "person", "operator": operator}


async def test_random_filters(database_url: str, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the SQL pushdown exists on PostgreSQL only")
    rng = random.Random(2024)
    async with session_scope(sessionmaker) as session:
        tenant = await bootstrap_tenant(session)
        for _ in range(150):
            drawn = value(rng)
            properties = {} if drawn is MISSING else {"v": drawn}
            session.add(Person(id=uuid.uuid4(), team_id=tenant.team_id, properties=properties))
    decided = total = 0
    for _ in range(250):
        filters: list[Any] = [prop(rng) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.3:
            filters = [{"type": "OR", "values": filters}]
        try:
            audience = build_audience({"properties": filters}, TeamContext())
        except FiltersCompileError:
            continue
        pushdown = audience.pushdown(type_coerce(Person.properties, JSONB))
        hint = pushdown.hint if pushdown.hint is not None else true()
        statement = select(Person.id, Person.properties, pushdown.predicate, pushdown.needs_vm, hint).where(
            Person.team_id == tenant.team_id
        )
        async with session_scope(sessionmaker) as session:
            rows = (await session.execute(statement)).all()
        for person_id, props, predicate, needs_vm, hint_holds in rows:
            vm = audience.matches(person_id, props)
            total += 1
            assert not vm or hint_holds is True, (properties, props)
            if needs_vm:
                assert not (predicate is False and vm), (properties, props)
            else:
                decided += 1
                assert predicate is vm, (properties, props, predicate, vm)
    assert decided > total * 0.6
