"""The native standard-library registry: name -> implementation + PostHog's arity contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.hog.errors import HogVMError


class StlContext(Protocol):
    """What native functions may ask of the running VM."""

    def add_print(self, line: str) -> None: ...

    def check_deadline(self) -> None: ...

    def allocate(self, size: int) -> None: ...

    def remaining_seconds(self) -> float: ...


NativeFn = Callable[[StlContext, list[Any]], Any]


@dataclass(frozen=True, slots=True)
class StlFunction:
    name: str
    fn: NativeFn
    min_args: int
    max_args: int | None  # None = unbounded
    # The result may contain new nested containers (JSON parsing); memory accounting must walk it.
    deep_result: bool = False

    def check_arity(self, argc: int) -> None:
        if argc < self.min_args:
            raise HogVMError(f"Function {self.name} requires at least {self.min_args} arguments")
        if self.max_args is not None and argc > self.max_args:
            raise HogVMError(f"Function {self.name} requires at most {self.max_args} arguments")

    @property
    def display_arg_count(self) -> int:
        return self.max_args if self.max_args is not None else self.min_args


STL: dict[str, StlFunction] = {}


def stl(name: str, min_args: int, max_args: int | None, *, deep_result: bool = False) -> Callable[[NativeFn], NativeFn]:
    """Register a native STL function under its Hog name."""

    def register(fn: NativeFn) -> NativeFn:
        if name in STL:
            raise RuntimeError(f"STL function {name} registered twice")
        STL[name] = StlFunction(name, fn, min_args, max_args, deep_result)
        return fn

    return register


def arg(args: list[Any], index: int, default: Any = None) -> Any:
    """Optional argument ``index`` (absent and null both give ``default``)."""
    if index < len(args) and args[index] is not None:
        return args[index]
    return default
