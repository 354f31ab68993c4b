"""Hog compiler: the `hogql_parser` JSON AST -> PostHog-compatible bytecode `["_H", 1, ...]`.

Public entry points:

* `compile_program(src)` - a Hog program (function code). Its locals are popped at the end, so the
  result is `null` unless a top-level `return` runs.
* `compile_expression(src)` - one expression (filters, conditions); leaves exactly one value.
* `compile_ast(node, mode="expr" | "program")` - compile a JSON AST you built yourself. Nodes use the
  parser's own format (spec/hog.md §9.1), e.g.
  `{"node": "CompareOperation", "op": "==", "left": {"node": "Field", "chain": ["event"]},
  "right": {"node": "Constant", "value": "$pageview"}}`. Positions (`start`/`end`) are optional.
  In "program" mode the node is a `Program` (`{"node": "Program", "declarations": [...]}`); any other
  statement or expression is wrapped into one.

`functions` (all entry points) names extra host functions that may be called by name, on top of the
STL and `DEFAULT_HOST_FUNCTIONS`. Calling anything else that is not a local is a `HogCompileError`.

The mapping follows PostHog's `posthog/hogql/compiler/bytecode.py` as described in spec/hog.md §6.
Every `_expr` leaves exactly one value on the stack; every `_stmt` leaves the stack as it was, except
`let` and `fun`, whose value becomes the new local's slot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from app.hog.compiler_functions import DEFAULT_HOST_FUNCTIONS, KNOWN_FUNCTIONS
from app.hog.compiler_scope import FunctionScope
from app.hog.opcodes import BYTECODE_MARKER, BYTECODE_VERSION, Op
from app.hog.parser import HogCompileError, parse_expr, parse_program, position_of

__all__ = ["HogCompileError", "compile_ast", "compile_expression", "compile_program"]

Node = dict[str, Any]
Code = list[Any]

_COMPARE_OPS: dict[str, Op] = {
    "==": Op.EQ,
    "!=": Op.NOT_EQ,
    ">": Op.GT,
    ">=": Op.GT_EQ,
    "<": Op.LT,
    "<=": Op.LT_EQ,
    "like": Op.LIKE,
    "ilike": Op.ILIKE,
    "not like": Op.NOT_LIKE,
    "not ilike": Op.NOT_ILIKE,
    "in": Op.IN,
    "not in": Op.NOT_IN,
    "=~": Op.REGEX,
    "!~": Op.NOT_REGEX,
    "=~*": Op.IREGEX,
    "!~*": Op.NOT_IREGEX,
}

_ARITHMETIC_OPS: dict[str, Op] = {
    "+": Op.PLUS,
    "-": Op.MINUS,
    "*": Op.MULTIPLY,
    "/": Op.DIVIDE,
    "%": Op.MOD,
}

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

# Hidden locals of `for (let k, v in expr)` (names as in PostHog) and of `between`.
_FOR_IN_EXPR = "__H_expr_H__"
_FOR_IN_KEYS = "__H_keys_H__"
_FOR_IN_VALUES = "__H_values_H__"
_FOR_IN_INDEX = "__H_index_H__"
_FOR_IN_LIMIT = "__H_limit_H__"
_BETWEEN_LOCALS = ("\x00between_result", "\x00between_expr", "\x00between_low", "\x00between_high")


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def compile_program(src: str, *, functions: Iterable[str] = ()) -> list[Any]:
    """Compile Hog program source to bytecode. Raises `HogSyntaxError`/`HogCompileError`."""
    return _compile(parse_program(src), "program", functions, src, 0)


def compile_expression(src: str, *, functions: Iterable[str] = ()) -> list[Any]:
    """Compile a single Hog expression to bytecode that leaves its value on the stack."""
    return _compile(parse_expr(src), "expr", functions, src, 0)


def compile_ast(
    node: Node,
    *,
    mode: str = "expr",
    functions: Iterable[str] = (),
    source: str | None = None,
    source_shift: int = 0,
) -> list[Any]:
    """Compile a JSON AST node (the parser's format) to bytecode; `mode` is "expr" or "program".

    `source` (optional) is the text the node's `start.offset` positions refer to, minus
    `source_shift` code points; it only serves to give errors a line and column.
    """
    return _compile(node, mode, functions, source, source_shift)


def _compile(node: Node, mode: str, functions: Iterable[str], source: str | None, shift: int) -> list[Any]:
    if mode not in ("expr", "program"):
        raise ValueError(f"mode must be 'expr' or 'program', not {mode!r}")
    if not isinstance(node, dict):
        raise HogCompileError(f"Expected an AST node (dict), got {type(node).__name__}")
    compiler = _Compiler(
        FunctionScope(),
        functions=KNOWN_FUNCTIONS | DEFAULT_HOST_FUNCTIONS | frozenset(functions),
        source=source,
        shift=shift,
    )
    if mode == "program":
        if node.get("node") != "Program":
            node = {"node": "Program", "declarations": [node]}
        code = compiler.program(node)
    else:
        code = compiler.expr(node)
    return [BYTECODE_MARKER, BYTECODE_VERSION, *_plain(code)]


def _plain(code: Code) -> Code:
    """Replace `Op` members by plain ints (the output must be JSON-clean and compare as data)."""
    return [int(item) if isinstance(item, Op) else item for item in code]


# ---------------------------------------------------------------------------------------------------
# Compiler
# ---------------------------------------------------------------------------------------------------


class _Compiler:
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

    # -- program and statements -------------------------------------------------------------------

    def program(self, node: Node) -> Code:
        self.scope.begin_scope()
        code: Code = []
        for declaration in node.get("declarations") or []:
            code += self.stmt(declaration)
        code += self.scope.end_scope()
        return code

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

    def _stmt_ExprStatement(self, node: Node) -> Code:
        expr = node.get("expr")
        if expr is None:
            return []
        return [*self.expr(expr), Op.POP]

    def _stmt_Block(self, node: Node) -> Code:
        self.scope.begin_scope()
        code: Code = []
        for declaration in node.get("declarations") or []:
            code += self.stmt(declaration)
        return code + self.scope.end_scope()

    def _stmt_VariableDeclaration(self, node: Node) -> Code:
        name = node["name"]
        # Declared before its value is compiled so closures in the value can capture it (recursion).
        local = self.scope.declare(name, initializing=True)
        try:
            expr = node.get("expr")
            code = self.expr(expr) if expr is not None else [Op.NULL]
        finally:
            local.initializing = False
        return code

    def _stmt_VariableAssignment(self, node: Node) -> Code:
        left, right = node["left"], node["right"]
        kind = left.get("node")
        if kind == "Field":
            return self._assign_field(left, right)
        if kind == "ArrayAccess":
            return [*self._operands([left["array"], left["property"], right]), Op.SET_PROPERTY]
        if kind == "TupleAccess":
            code = self.expr(left["tuple"])
            with self._pending(2):
                value = self.expr(right)
            return [*code, Op.INTEGER, left["index"], *value, Op.SET_PROPERTY]
        raise self.error("Can not assign to this type of expression", left)

    def _assign_field(self, left: Node, right: Node) -> Code:
        chain = list(left.get("chain") or [])
        name = chain[0]
        local = self.scope.find_local(name) if isinstance(name, str) else None
        if local is not None:
            get_op, set_op, index = Op.GET_LOCAL, Op.SET_LOCAL, local.slot
        else:
            upvalue = self.scope.resolve_upvalue(name) if isinstance(name, str) else None
            if upvalue is None:
                raise self.error(f'Variable "{name}" not declared in this scope. Can not assign to globals.', left)
            get_op, set_op, index = Op.GET_UPVALUE, Op.SET_UPVALUE, upvalue
        if len(chain) == 1:
            return [*self.expr(right), set_op, index]
        code: Code = [get_op, index]
        for part in chain[1:-1]:
            code += [*self._key(part), Op.GET_PROPERTY]
        code += self._key(chain[-1])
        with self._pending(2):
            code += self.expr(right)
        return [*code, Op.SET_PROPERTY]

    def _stmt_Function(self, node: Node) -> Code:
        name = node["name"]
        self.scope.declare(name)
        return self._callable(name, node.get("params") or [], node["body"], node)

    def _stmt_IfStatement(self, node: Node) -> Code:
        condition = self.expr(node["expr"])
        then = self._scoped_stmt(node.get("then"))
        else_node = node.get("else_")
        if else_node is None:
            return [*condition, Op.JUMP_IF_FALSE, len(then), *then]
        otherwise = self._scoped_stmt(else_node)
        return [
            *condition,
            Op.JUMP_IF_FALSE,
            len(then) + 2,
            *then,
            Op.JUMP,
            len(otherwise),
            *otherwise,
        ]

    def _stmt_WhileStatement(self, node: Node) -> Code:
        condition = self.expr(node["expr"])
        body = self._scoped_stmt(node.get("body"))
        return self._loop(condition, body)

    def _loop(self, condition: Code | None, body: Code) -> Code:
        """`condition` (optional) checked before each run of `body`, then jump back to it."""
        if condition is None:
            return [*body, Op.JUMP, -(len(body) + 2)]
        return [
            *condition,
            Op.JUMP_IF_FALSE,
            len(body) + 2,
            *body,
            Op.JUMP,
            -(len(condition) + 2 + len(body) + 2),
        ]

    def _stmt_ForStatement(self, node: Node) -> Code:
        self.scope.begin_scope()
        initializer = self.stmt(node.get("initializer"))
        condition_node = node.get("condition")
        condition = self.expr(condition_node) if condition_node is not None else None
        body = self._scoped_stmt(node.get("body"))
        increment = self.stmt(node.get("increment"))
        code = [*initializer, *self._loop(condition, body + increment)]
        return code + self.scope.end_scope()

    def _stmt_ForInStatement(self, node: Node) -> Code:
        key_var, value_var = node.get("keyVar"), node["valueVar"]
        scope = self.scope
        scope.begin_scope()
        code = self.expr(node["expr"])
        expr_local = scope.declare(_FOR_IN_EXPR, check=False)
        keys_local = None
        if key_var is not None:
            code += [Op.GET_LOCAL, expr_local.slot, Op.CALL_GLOBAL, "keys", 1]
            keys_local = scope.declare(_FOR_IN_KEYS, check=False)
        code += [Op.GET_LOCAL, expr_local.slot, Op.CALL_GLOBAL, "values", 1]
        values_local = scope.declare(_FOR_IN_VALUES, check=False)
        code += [Op.INTEGER, 1]
        index_local = scope.declare(_FOR_IN_INDEX, check=False)
        code += [Op.GET_LOCAL, values_local.slot, Op.CALL_GLOBAL, "length", 1]
        limit_local = scope.declare(_FOR_IN_LIMIT, check=False)
        key_local = None
        if key_var is not None:
            code += [Op.NULL]
            key_local = scope.declare(key_var, check=False)
        code += [Op.NULL]
        value_local = scope.declare(value_var, check=key_var is not None)

        condition = [Op.GET_LOCAL, limit_local.slot, Op.GET_LOCAL, index_local.slot, Op.LT_EQ]
        body: Code = []
        if key_local is not None and keys_local is not None:
            body += [Op.GET_LOCAL, keys_local.slot, Op.GET_LOCAL, index_local.slot, Op.GET_PROPERTY]
            body += [Op.SET_LOCAL, key_local.slot]
        body += [Op.GET_LOCAL, values_local.slot, Op.GET_LOCAL, index_local.slot, Op.GET_PROPERTY]
        body += [Op.SET_LOCAL, value_local.slot]
        body += self._scoped_stmt(node.get("body"))
        body += [Op.GET_LOCAL, index_local.slot, Op.INTEGER, 1, Op.PLUS, Op.SET_LOCAL, index_local.slot]
        code += self._loop(condition, body)
        return code + scope.end_scope()

    def _stmt_TryCatchStatement(self, node: Node) -> Code:
        if node.get("finally_stmt") is not None:
            raise self.error("finally blocks are not yet supported", node["finally_stmt"])
        catches = node.get("catches") or []
        if not catches:
            raise self.error("try statement must have at least one catch block", node)
        try_code = self.stmt(node["try_stmt"])

        scope = self.scope
        scope.begin_scope()
        # On a throw the VM truncates the stack to its height at TRY and pushes the error: local `e`.
        error_local = scope.declare("e", check=False)
        catch_code: Code = [Op.GET_LOCAL, error_local.slot, Op.STRING, "type", Op.GET_PROPERTY]
        type_local = scope.declare("type", check=False)

        blocks: list[Code] = []
        for catch in catches:
            variable, error_type, block = catch[0], catch[1], catch[2]
            scope.begin_scope()
            body: Code = []
            if variable is not None and variable != "e":
                body += [Op.GET_LOCAL, error_local.slot]
                scope.declare(variable, check=False)
            body += self.stmt(block)
            body += scope.end_scope()
            if error_type is not None and error_type != "Error":
                check = [Op.STRING, error_type, Op.GET_LOCAL, type_local.slot, Op.EQ]
                blocks.append([*check, Op.JUMP_IF_FALSE, len(body) + 2, *body])
            else:
                blocks.append(body)
        rethrow = [Op.POP, Op.THROW]
        # Each block ends with a jump past the remaining blocks and the rethrow.
        remaining = len(rethrow)
        for block_code in reversed(blocks):
            block_code += [Op.JUMP, remaining]
            remaining += len(block_code)
        for block_code in blocks:
            catch_code += block_code
        catch_code += rethrow
        catch_code += scope.end_scope()
        # The catch code runs only after a throw; normal completion jumps over it.
        return [
            Op.TRY,
            len(try_code) + 4,
            *try_code,
            Op.POP_TRY,
            Op.JUMP,
            len(catch_code),
            *catch_code,
        ]

    def _stmt_ReturnStatement(self, node: Node) -> Code:
        expr = node.get("expr")
        return [*(self.expr(expr) if expr is not None else [Op.NULL]), Op.RETURN]

    def _stmt_ThrowStatement(self, node: Node) -> Code:
        expr = node.get("expr")
        return [*(self.expr(expr) if expr is not None else [Op.NULL]), Op.THROW]

    # -- functions --------------------------------------------------------------------------------

    def _callable(self, name: str, params: list[str], body: Node, node: Node) -> Code:
        """CALLABLE + inline body + CLOSURE for a `fun` or a lambda."""
        inner = _Compiler(
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

    # -- expressions ------------------------------------------------------------------------------

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

    def _expr_Constant(self, node: Node) -> Code:
        value = node.get("value")
        if node.get("value_type") == "number" and isinstance(value, str):
            value = _number(value)
        if value is None:
            return [Op.NULL]
        if value is True:
            return [Op.TRUE]
        if value is False:
            return [Op.FALSE]
        if isinstance(value, int):
            return [Op.INTEGER, value]
        if isinstance(value, float):
            return [Op.FLOAT, value]
        if isinstance(value, str):
            return [Op.STRING, value]
        raise self.error(f"Unsupported constant type: {type(value).__name__}", node)

    def _key(self, part: Any) -> Code:
        if isinstance(part, bool) or not isinstance(part, int | str):
            raise HogCompileError(f"Unsupported property name: {part!r}")
        return [Op.INTEGER, part] if isinstance(part, int) else [Op.STRING, part]

    def _expr_Field(self, node: Node) -> Code:
        chain = list(node.get("chain") or [])
        if not chain:
            raise self.error("Empty field chain", node)
        name = chain[0]
        code: Code
        local = self.scope.find_local(name) if isinstance(name, str) else None
        if local is not None:
            code = [Op.GET_LOCAL, local.slot]
        else:
            upvalue = self.scope.resolve_upvalue(name) if isinstance(name, str) else None
            if upvalue is None:
                code = []
                for part in reversed(chain):
                    code += self._key(part)
                return [*code, Op.GET_GLOBAL, len(chain)]
            code = [Op.GET_UPVALUE, upvalue]
        for part in chain[1:]:
            code += [*self._key(part), Op.GET_PROPERTY]
        return code

    def _expr_ArrayAccess(self, node: Node) -> Code:
        prop = node["property"]
        if prop.get("node") == "Constant" and prop.get("value") == 0 and type(prop.get("value")) is int:
            raise self.error("Array access starts from 1", prop)
        op = Op.GET_PROPERTY_NULLISH if node.get("nullish") else Op.GET_PROPERTY
        return [*self._operands([node["array"], prop]), op]

    def _expr_TupleAccess(self, node: Node) -> Code:
        index = node["index"]
        if index == 0:
            raise self.error("Tuple access starts from 1", node)
        op = Op.GET_PROPERTY_NULLISH if node.get("nullish") else Op.GET_PROPERTY
        return [*self.expr(node["tuple"]), Op.INTEGER, index, op]

    def _expr_Array(self, node: Node) -> Code:
        items = node.get("exprs") or []
        return [*self._operands(items), Op.ARRAY, len(items)]

    def _expr_Tuple(self, node: Node) -> Code:
        items = node.get("exprs") or []
        return [*self._operands(items), Op.TUPLE, len(items)]

    def _expr_Dict(self, node: Node) -> Code:
        items = node.get("items") or []
        flat = [part for item in items for part in (item[0], item[1])]
        return [*self._operands(flat), Op.DICT, len(items)]

    def _expr_And(self, node: Node) -> Code:
        exprs = node.get("exprs") or []
        return [*self._operands(exprs), Op.AND, len(exprs)]

    def _expr_Or(self, node: Node) -> Code:
        exprs = node.get("exprs") or []
        return [*self._operands(exprs), Op.OR, len(exprs)]

    def _expr_Not(self, node: Node) -> Code:
        return [*self.expr(node["expr"]), Op.NOT]

    def _expr_CompareOperation(self, node: Node) -> Code:
        op = node["op"]
        if op in ("in cohort", "not in cohort"):
            raise self.error("Can't use cohorts in real-time filters. Please inline the relevant expressions.", node)
        opcode = _COMPARE_OPS.get(op)
        if opcode is None:
            raise self.error(f"Unsupported comparison operator in Hog: {op}", node)
        return [*self._operands([node["right"], node["left"]]), opcode]

    def _expr_ArithmeticOperation(self, node: Node) -> Code:
        op = node["op"]
        opcode = _ARITHMETIC_OPS.get(op)
        if opcode is None:
            raise self.error(f"Unsupported arithmetic operator in Hog: {op}", node)
        return [*self._operands([node["right"], node["left"]]), opcode]

    def _expr_BetweenExpr(self, node: Node) -> Code:
        """`x [not] between low and high` with hidden locals, so each operand is evaluated once.

        Layout (as PostHog): result slot (NULL), x, low, high; if none is null, compare, else false;
        store into the result slot and pop the three operands.
        """
        scope = self.scope
        saved_pending = scope.pending
        base = scope.next_slot()
        scope.pending = 0
        declared = 0
        try:
            result = scope.declare(_BETWEEN_LOCALS[0], check=False, slot=base)
            declared += 1
            code: Code = [Op.NULL]
            slots: list[int] = []
            for name, operand in zip(_BETWEEN_LOCALS[1:], (node["expr"], node["low"], node["high"]), strict=True):
                code += self.expr(operand)
                slots.append(scope.declare(name, check=False).slot)
                declared += 1
            x, low, high = slots
            checks = [Op.GET_LOCAL, low, Op.NULL, Op.NOT_EQ, Op.GET_LOCAL, high, Op.NULL, Op.NOT_EQ]
            checks += [Op.GET_LOCAL, x, Op.NULL, Op.NOT_EQ, Op.AND, 3]
            if node.get("negated"):
                compare = [Op.GET_LOCAL, low, Op.GET_LOCAL, x, Op.LT, Op.GET_LOCAL, high, Op.GET_LOCAL, x]
                compare += [Op.GT, Op.OR, 2]
            else:
                compare = [Op.GET_LOCAL, low, Op.GET_LOCAL, x, Op.GT_EQ, Op.GET_LOCAL, high, Op.GET_LOCAL, x]
                compare += [Op.LT_EQ, Op.AND, 2]
            code += [*checks, Op.JUMP_IF_FALSE, len(compare) + 2, *compare, Op.JUMP, 1, Op.FALSE]
            code += [Op.SET_LOCAL, result.slot, Op.POP, Op.POP, Op.POP]
        finally:
            scope.drop_locals(declared)
            scope.pending = saved_pending
        return code

    def _expr_Lambda(self, node: Node) -> Code:
        return self._callable("lambda", node.get("args") or [], node["expr"], node)

    def _expr_ExprCall(self, node: Node) -> Code:
        args = node.get("args") or []
        code = self._operands(args)
        with self._pending(len(args)):
            code += self.expr(node["expr"])
        return [*code, Op.CALL_LOCAL, len(args)]

    def _expr_Placeholder(self, node: Node) -> Code:
        raise self.error("Placeholders ({...} inside an expression) are not supported in Hog", node)

    def _expr_HogQLXTag(self, node: Node) -> Code:
        kind = node["kind"]
        attributes = node.get("attributes") or []
        local_fn = self._callee(kind)
        parts: list[Any] = []
        if local_fn is None:
            parts += [{"node": "Constant", "value": "__hx_tag"}, {"node": "Constant", "value": kind}]
        for attribute in attributes:
            value = attribute.get("value")
            if isinstance(value, list):
                value = {"node": "Array", "exprs": value}
            parts += [{"node": "Constant", "value": attribute["name"]}, value]
        code = [*self._operands(parts), Op.DICT, len(parts) // 2]
        if local_fn is not None:
            return [*code, *local_fn, Op.CALL_LOCAL, 1]
        return code

    def _callee(self, name: str) -> Code | None:
        """Code loading the local or upvalue `name`, or None if it is neither."""
        local = self.scope.find_local(name)
        if local is not None:
            return [Op.GET_LOCAL, local.slot]
        upvalue = self.scope.resolve_upvalue(name)
        if upvalue is not None:
            return [Op.GET_UPVALUE, upvalue]
        return None

    def _expr_Call(self, node: Node) -> Code:
        name: str = node["name"]
        args: list[Node] = node.get("args") or []
        params = node.get("params")
        if params is not None:
            # `f(p)(a)`: call `f` with the params, then the returned function with the args.
            inner = self._call({"node": "Call", "name": name, "args": params}, pending=len(args))
            return [*self._operands(args), *inner, Op.CALL_LOCAL, len(args)]
        return self._call(node)

    def _call(self, node: Node, pending: int = 0) -> Code:
        with self._pending(pending):
            return self._call_inner(node)

    def _call_inner(self, node: Node) -> Code:
        name: str = node["name"]
        args: list[Node] = node.get("args") or []
        callee = self._callee(name)
        if callee is not None:
            return [*self._operands(args), *callee, Op.CALL_LOCAL, len(args)]
        special = self._special_call(name, args, node)
        if special is not None:
            return special
        if name not in self.functions:
            raise self.error(f"Hog function `{name}` is not implemented", node)
        return [*self._operands(args), Op.CALL_GLOBAL, name, len(args)]

    def _special_call(self, name: str, args: list[Node], node: Node) -> Code | None:
        """Calls PostHog compiles inline instead of dispatching to the STL."""
        count = len(args)
        if name == "not" and count == 1:
            return [*self.expr(args[0]), Op.NOT]
        if name in ("and", "or") and count > 1:
            return [*self._operands(args), Op.AND if name == "and" else Op.OR, count]
        if name == "if" and count in (2, 3):
            return self._if(args[0], args[1], args[2] if count == 3 else None)
        if name == "multiIf" and count >= 2:
            return self._multi_if(args)
        if name == "ifNull" and count == 2:
            value, fallback = self.expr(args[0]), self.expr(args[1])
            return [*value, Op.JUMP_IF_STACK_NOT_NULL, len(fallback) + 1, Op.POP, *fallback]
        if name == "sql":
            raise self.error("sql() is not supported by this Hog compiler", node)
        return None

    def _if(self, condition: Node, then: Node, otherwise: Node | None) -> Code:
        cond_code = self.expr(condition)
        then_code = self.expr(then)
        else_code = self.expr(otherwise) if otherwise is not None else [Op.NULL]
        return [
            *cond_code,
            Op.JUMP_IF_FALSE,
            len(then_code) + 2,
            *then_code,
            Op.JUMP,
            len(else_code),
            *else_code,
        ]

    def _multi_if(self, args: list[Node]) -> Code:
        """`multiIf(c1, v1, c2, v2, ..., default)`: an if/else-if chain; default is null if absent."""
        pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
        code = self.expr(args[-1]) if len(args) % 2 == 1 else [Op.NULL]
        for condition, value in reversed(pairs):
            cond_code = self.expr(condition)
            value_code = self.expr(value)
            code = [
                *cond_code,
                Op.JUMP_IF_FALSE,
                len(value_code) + 2,
                *value_code,
                Op.JUMP,
                len(code),
                *code,
            ]
        return code


def _number(text: str) -> int | float:
    """Numbers the parser passes as strings: `Infinity`, `-Infinity`, `NaN` and huge integers."""
    if text in ("Infinity", "inf", "+Infinity"):
        return math.inf
    if text in ("-Infinity", "-inf"):
        return -math.inf
    if text in ("NaN", "nan"):
        return math.nan
    try:
        return int(text)
    except ValueError:
        return float(text)
