"""The regular expressions pushed down to PostgreSQL mean what they mean to the VM (RE2)."""

import random

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audiences.regex import portable_pattern
from app.db.session import session_scope
from app.hog.regex import matches

ACCEPTED = ["^p", "[0-9]+$", r"\d{2,4}", r"^(a|b)c?$", r"(?:ab)+", r"[^a-z_]", r"\.com$", r"\w+@\w+\.\w+", "a*?b", ""]
REJECTED = [
    r"\bword",  # a word boundary in Python, a backspace in PostgreSQL
    r"(a)\1",  # backreference
    "(?i)pro",  # inline flags
    "(?=a)",  # lookahead
    r"\Aabc",
    r"[[:alpha:]]",
    "a{300}",  # over PostgreSQL's repetition limit
    "a{,3}",  # Python only
    "x{",  # a literal brace in Python, an error in PostgreSQL
    "é",
    "(",  # does not compile: the VM fails the filter
    "a**",
    "[a--b]",
    "(.*){200}(.*){200}b",  # nested repetition: seconds in PostgreSQL's engine
    "(a+)+",
    "(?:ab*){2}",
    "a{200}b{200}",  # bounded repeats adding up past 255
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_accepted(pattern: str) -> None:
    assert portable_pattern(pattern) is not None


@pytest.mark.parametrize("pattern", REJECTED)
def test_rejected(pattern: str) -> None:
    assert portable_pattern(pattern) is None


def test_class_escapes_are_flagged() -> None:
    assert portable_pattern(r"\s")
    assert portable_pattern(r"\s").uses_classes  # type: ignore[union-attr]
    assert not portable_pattern("a.b").uses_classes  # type: ignore[union-attr]


PIECES = [*"ab1.^$|?*+()[]{},-_\\ dwsx:", "(?:", "{2}", "{1,3}", "[a-c]", "[^a]", r"\d", r"\w", r"\s", r"\."]
TEXTS = ["", "a", "ab", "ba1", "a b", "xx_1", "1.5", "-", "aaa", "a.b", "{", "[]", "a|b", "\t", "abc123", "Zz9"]


async def test_random_patterns_agree_on_postgresql(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL regular expressions")
    rng = random.Random(11)
    checked = 0
    async with session_scope(sessionmaker) as session:
        for _ in range(3000):
            pattern = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
            portable = portable_pattern(pattern)
            if portable is None:
                continue
            texts = [t for t in TEXTS if not portable.uses_classes or t.isascii()]
            statement = text(
                "SELECT array_agg(t ~ :pattern ORDER BY n) "
                "FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS u(t, n)"
            )
            found = (await session.execute(statement, {"pattern": pattern, "texts": texts})).scalar_one()
            assert found == [matches(pattern, t) for t in texts], pattern
            checked += 1
    assert checked > 500
