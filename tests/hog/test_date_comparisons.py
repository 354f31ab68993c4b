"""Dates and datetimes order in time; unparsable text gives null, which compares false."""

import pytest

from app.hog import execute
from app.hog.compiler import compile_expression


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("toDateTime('2024-01-02') > toDateTime('2024-01-01')", True),
        ("toDateTime('2024-01-02') < toDateTime('2024-01-01')", False),
        ("toDateTime('2024-01-01T00:00:00+02:00') < toDateTime('2024-01-01T00:00:00Z')", True),
        ("toDateTime('2024-01-01T02:00:00+02:00') = toDateTime('2024-01-01T00:00:00Z')", True),
        ("toDate('2024-01-02') > toDateTime('2024-01-01 10:00:00')", True),
        ("toDate('2024-01-02') >= toDate('2024-01-02')", True),
        ("toDateTime('null')", None),
        ("toDate('not a date')", None),
        ("toDateTime(toString(null)) < toDateTime('2024-01-01')", False),
        ("toDateTime(toString(null)) > toDateTime('2024-01-01')", False),
        ("toDateTime(toString(null)) = toDateTime('2024-01-01')", False),
    ],
)
def test_date_comparisons(source: str, expected: object) -> None:
    assert execute(compile_expression(source)).result == expected
