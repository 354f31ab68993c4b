"""Locals, scopes and upvalues for the Hog compiler (see `compiler.py`).

A local is a slot on the VM stack, counted from the current function frame's start. Each function
(and the top level) gets its own `FunctionScope`; nested functions reach the locals of enclosing
functions through upvalues, Lua-style: `(True, slot)` captures a local of the directly enclosing
function, `(False, index)` reuses an upvalue the enclosing function already captured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.hog.opcodes import Op
from app.hog.parser import HogCompileError


@dataclass
class Local:
    name: str
    depth: int
    slot: int
    captured: bool = False
    # Declared by `let name := expr` while `expr` is being compiled: closures created inside `expr`
    # may capture it (recursive lambdas), plain reads inside `expr` still see the outer binding.
    initializing: bool = False


@dataclass(frozen=True)
class UpValue:
    is_local: bool
    index: int


@dataclass
class FunctionScope:
    """Compile-time state of one function body (or of the top level)."""

    enclosing: FunctionScope | None = None
    locals: list[Local] = field(default_factory=list)
    upvalues: list[UpValue] = field(default_factory=list)
    depth: int = 0
    # Values the code compiled so far leaves on the stack above the last local (operands still waiting
    # for their operator). Hidden locals created inside expressions (`between`) are placed above them.
    pending: int = 0

    @classmethod
    def for_function(cls, enclosing: FunctionScope | None, params: Iterable[str]) -> FunctionScope:
        scope = cls(enclosing=enclosing)
        for param in params:
            if any(local.name == param for local in scope.locals):
                raise HogCompileError(f"Duplicate parameter name `{param}`")
            scope.locals.append(Local(param, 0, len(scope.locals)))
        return scope

    # -- slots and scopes -------------------------------------------------------------------------

    def next_slot(self) -> int:
        """Stack slot the next pushed value lands in."""
        if not self.locals:
            return self.pending
        last = self.locals[-1]
        # An initializing local's slot is exactly where its value is being computed.
        return last.slot + (0 if last.initializing else 1) + self.pending

    def begin_scope(self) -> None:
        self.depth += 1

    def end_scope(self) -> list[object]:
        """Close the innermost scope: pop its locals (innermost first), closing captured ones."""
        code: list[object] = []
        while self.locals and self.locals[-1].depth >= self.depth:
            local = self.locals.pop()
            code.append(Op.CLOSE_UPVALUE if local.captured else Op.POP)
        self.depth -= 1
        return code

    def declare(self, name: str, *, initializing: bool = False, check: bool = True, slot: int | None = None) -> Local:
        if check:
            for local in reversed(self.locals):
                if local.depth < self.depth:
                    break
                if local.name == name:
                    raise HogCompileError(f"Variable `{name}` already declared in this scope")
        local = Local(name, self.depth, self.next_slot() if slot is None else slot, initializing=initializing)
        self.locals.append(local)
        return local

    def drop_locals(self, count: int) -> None:
        """Forget the last `count` locals without emitting code (the caller pops them)."""
        if count:
            del self.locals[-count:]

    # -- name resolution --------------------------------------------------------------------------

    def find_local(self, name: str, *, include_initializing: bool = False) -> Local | None:
        for local in reversed(self.locals):
            if local.name == name and (include_initializing or not local.initializing):
                return local
        return None

    def resolve_upvalue(self, name: str) -> int | None:
        """Index of the upvalue for `name` in this function, capturing it if needed."""
        if self.enclosing is None:
            return None
        local = self.enclosing.find_local(name, include_initializing=True)
        if local is not None:
            local.captured = True
            return self._add_upvalue(UpValue(True, local.slot))
        index = self.enclosing.resolve_upvalue(name)
        if index is not None:
            return self._add_upvalue(UpValue(False, index))
        return None

    def _add_upvalue(self, upvalue: UpValue) -> int:
        for index, existing in enumerate(self.upvalues):
            if existing == upvalue:
                return index
        self.upvalues.append(upvalue)
        return len(self.upvalues) - 1
