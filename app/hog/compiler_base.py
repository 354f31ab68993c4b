"""Shared machinery of the Hog compiler: dispatch, positions for errors, pending stack values,
and compiling function bodies. Statements live in `compiler_statements.py`, expressions in
`compiler_expressions.py`, the public API in `compiler.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.hog.compiler_scope import FunctionScope
from app.hog.opcodes import Op
from app.hog.parser import HogCompileError, position_of

Node = dict[str, Any]
Code = list[Any]

_STATEMENT_NODES = frozenset(
    {
        "ExprStatement",
        "VariableDeclaration",
        "VariableAssignment",
        "Function",
        "IfStatement",
        "WhileStatement",
        "ForStatement",
        "ForInStatement",
        "TryCatchStatement",
        "ReturnStatement",
        "ThrowStatement",
        "Block",
    }
)


class CompilerBase:
    """State of one function being compiled; `stmt`/`expr` dispatch to `_stmt_<Node>`/`_expr_<Node>`."""

    def __init__(self, scope: FunctionScope, *, functions: frozenset[str], source: str | None, shift: int) -> None:
        self.scope = scope
        self.functions = functions
        self.source = source
        self.shift = shift

    # -- errors -----------------------------------------------------------------------------------

    def _position(self, node: Any) -> tuple[int | None, int | None]:
        start = node.get("start") if isinstance(node, dict) else None
        if not isinstance(start, dict):
            return None, None
        offset = start.get("offset")
        if self.source is not None and isinstance(offset, int):
            return position_of(self.source, offset - self.shift)
        line, column = start.get("line"), start.get("column")
        if isinstance(line, int) and line > 0:
            return line, column + 1 if isinstance(column, int) else None
        return None, None

    def error(self, message: str, node: Any) -> HogCompileError:
        line, column = self._position(node)
        return HogCompileError(message, line, column)

    @contextmanager
    def _at(self, node: Any) -> Iterator[None]:
        """Give position-less compile errors raised below `node` the position of `node`."""
        try:
            yield
        except HogCompileError as exc:
            if exc.line is None:
                line, column = self._position(node)
                if line is not None:
                    raise HogCompileError(exc.message, line, column) from exc
            raise

    # -- dispatch ---------------------------------------------------------------------------------

    def stmt(self, node: Node | None) -> Code:
        if node is None:
            return []
        kind = node.get("node")
        if kind not in _STATEMENT_NODES:
            # A bare expression in statement position (e.g. an AST built by hand).
            return [*self.expr(node), Op.POP]
        with self._at(node):
            method = getattr(self, f"_stmt_{kind}")
            code: Code = method(node)
            return code

    def _scoped_stmt(self, node: Node | None) -> Code:
        """A statement in its own scope (loop/if bodies), so a bare `let` there can not leak."""
        if node is None:
            return []
        if node.get("node") == "Block":
            return self.stmt(node)
        self.scope.begin_scope()
        code = self.stmt(node)
        return code + self.scope.end_scope()

    @contextmanager
    def _pending(self, count: int) -> Iterator[None]:
        """`count` more values wait on the stack while the nested code is compiled."""
        self.scope.pending += count
        try:
            yield
        finally:
            self.scope.pending -= count

    def _operands(self, nodes: list[Node]) -> Code:
        """Compile expressions that are pushed one after the other."""
        code: Code = []
        for index, item in enumerate(nodes):
            with self._pending(index):
                code += self.expr(item)
        return code

    def expr(self, node: Node) -> Code:
        if not isinstance(node, dict):
            raise HogCompileError(f"Expected an expression node, got {type(node).__name__}")
        kind = node.get("node")
        method = getattr(self, f"_expr_{kind}", None)
        if method is None:
            if kind in _STATEMENT_NODES:
                raise self.error(f"Expected an expression, got statement {kind}", node)
            raise self.error(f"Unsupported expression in Hog: {kind}", node)
        with self._at(node):
            code: Code = method(node)
            return code

    def _key(self, part: Any) -> Code:
        if isinstance(part, bool) or not isinstance(part, int | str):
            raise HogCompileError(f"Unsupported property name: {part!r}")
        return [Op.INTEGER, part] if isinstance(part, int) else [Op.STRING, part]

    # -- functions --------------------------------------------------------------------------------

    def _callable(self, name: str, params: list[str], body: Node, node: Node) -> Code:
        """CALLABLE + inline body + CLOSURE for a `fun` or a lambda."""
        inner = type(self)(
            FunctionScope.for_function(self.scope, params),
            functions=self.functions,
            source=self.source,
            shift=self.shift,
        )
        with inner._at(node):
            code = inner._function_body(body)
        upvalues = inner.scope.upvalues
        closure: Code = [Op.CLOSURE, len(upvalues)]
        for upvalue in upvalues:
            closure += [upvalue.is_local, upvalue.index]
        return [Op.CALLABLE, name, len(params), len(upvalues), len(code), *code, *closure]

    def _function_body(self, body: Node) -> Code:
        kind = body.get("node")
        if kind == "Block":
            declarations = body.get("declarations") or []
        elif kind == "Placeholder":
            # `x -> { expr }` is parsed as a placeholder: a block holding one expression statement
            # (`{ a := 1 }` comes as a placeholder holding a named argument: an assignment).
            inner = body["expr"]
            if inner.get("node") == "NamedArgument":
                target = {"node": "Field", "chain": [inner["name"]]}
                declarations = [{"node": "VariableAssignment", "left": target, "right": inner["value"]}]
            else:
                declarations = [{"node": "ExprStatement", "expr": inner}]
        else:
            return [*self.expr(body), Op.RETURN]
        self.scope.begin_scope()
        code: Code = []
        for declaration in declarations:
            code += self.stmt(declaration)
        if not declarations or declarations[-1].get("node") != "ReturnStatement":
            code += [Op.NULL, Op.RETURN]
        return code + self.scope.end_scope()
