"""Hog expressions and calls -> bytecode (spec/hog.md §6.3, §6.5, §6.6)."""

from __future__ import annotations

import math
from typing import Any

from app.hog.compiler_base import Code, CompilerBase, Node
from app.hog.opcodes import Op

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
# Hidden locals of `between`: names no Hog identifier can spell.
_BETWEEN_LOCALS = ("\x00between_result", "\x00between_expr", "\x00between_low", "\x00between_high")


class ExpressionsMixin(CompilerBase):
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

    def _expr_Alias(self, node: Node) -> Code:
        # `expr as name` (HogQL syntax): the alias means nothing in bytecode.
        return self.expr(node["expr"])

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
