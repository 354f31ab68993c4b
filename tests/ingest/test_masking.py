"""Trigger masking arithmetic and the hash program."""

import hashlib

import pytest

from app.hog.templates import compile_template
from app.ingest.masking import MAX_TTL_SECONDS, mask_digest, masking_threshold, masking_ttl, passes


@pytest.mark.parametrize(
    ("new", "increment", "threshold", "allowed"),
    [
        (1, 1, None, 1),  # first hit in the window
        (2, 1, None, 0),
        (3, 3, None, 1),  # three at once into a fresh window: only the first
        (5, 2, None, 0),
        (1, 1, 3, 1),  # 1st passes
        (3, 2, 3, 0),  # 2nd, 3rd
        (4, 1, 3, 1),  # 4th = 1 + N
        (7, 7, 3, 3),  # 1st, 4th, 7th in one go
        (10, 3, 3, 1),  # 8th..10th: the 10th
    ],
)
def test_passes(new: int, increment: int, threshold: int | None, allowed: int) -> None:
    assert passes(new, increment, threshold) == allowed


def test_ttl_and_threshold_are_clamped() -> None:
    assert masking_ttl({"ttl": 60}) == 60
    assert masking_ttl({"ttl": None}) == MAX_TTL_SECONDS
    assert masking_ttl({"ttl": 0.2}) == 1
    assert masking_ttl({"ttl": 10**12}) == MAX_TTL_SECONDS
    assert masking_threshold({"threshold": 0}) is None
    assert masking_threshold({"threshold": 5}) == 5
    assert masking_threshold({}) is None


def test_digest_is_md5_of_the_rendered_hash() -> None:
    masking = {"bytecode": compile_template("{person.id}")}
    digest = mask_digest(masking, {"event": {}, "person": {"id": "abc"}})
    assert digest == hashlib.md5(b"abc").hexdigest()


@pytest.mark.parametrize("value", [None, "", 0, False])
def test_falsy_hash_is_never_masked(value: object) -> None:
    masking = {"bytecode": compile_template("{event.properties.key}")}
    assert mask_digest(masking, {"event": {"properties": {"key": value}}, "person": None}) is None


def test_failing_hash_raises() -> None:
    masking = {"bytecode": compile_template("{jsonParse(event.properties.key)}")}
    with pytest.raises(Exception, match="Invalid JSON"):
        mask_digest(masking, {"event": {"properties": {"key": "{"}}, "person": None})
