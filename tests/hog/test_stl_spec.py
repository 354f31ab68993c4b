"""PostHog's shared STL contract (`common/hogvm/spec/stl.json`, kept in `posthog_newer/stl_spec.json`):
every function has its arity, and a call with one argument too few or too many fails with the message
of the spec's generated vectors (`spec/vectors/arity.json`: the arguments are the string "1")."""

import json
from pathlib import Path

import pytest

from app.hog import HogVMError, execute
from app.hog.stl.registry import STL

SPEC = json.loads((Path(__file__).parent / "posthog_newer" / "stl_spec.json").read_text())["functions"]
# `run` executes a HogQL query in PostHog's Django app; there is no HogQL here.
OURS = {name: entry for name, entry in SPEC.items() if name != "run"}


def _vectors() -> list[tuple[str, int, str]]:
    cases = []
    for name, entry in sorted(OURS.items()):
        low, high = entry["minArgs"], entry["maxArgs"]
        if low > 0:
            cases.append((name, low - 1, f"Function {name} requires at least {low} arguments"))
        if high is not None:
            cases.append((name, high + 1, f"Function {name} requires at most {high} arguments"))
    return cases


def test_every_spec_function_is_implemented_with_its_arity() -> None:
    assert {name: (STL[name].min_args, STL[name].max_args) for name in OURS if name in STL} == {
        name: (entry["minArgs"], entry["maxArgs"]) for name, entry in OURS.items()
    }


@pytest.mark.parametrize(("name", "argc", "message"), _vectors(), ids=lambda value: str(value))
def test_arity_vector(name: str, argc: int, message: str) -> None:
    bytecode: list[object] = ["_H", 1]
    for _ in range(argc):
        bytecode += [32, "1"]
    bytecode += [2, name, argc]
    with pytest.raises(HogVMError) as error:
        execute(bytecode)
    assert str(error.value) == message
