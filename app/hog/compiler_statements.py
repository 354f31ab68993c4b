"""Hog statements -> bytecode (spec/hog.md §6.2, §6.4, §6.7, §6.8)."""

from __future__ import annotations

from app.hog.compiler_base import Code, CompilerBase, Node
from app.hog.opcodes import Op

# Hidden locals of `for (let k, v in expr)` (names as in PostHog).
_FOR_IN_EXPR = "__H_expr_H__"
_FOR_IN_KEYS = "__H_keys_H__"
_FOR_IN_VALUES = "__H_values_H__"
_FOR_IN_INDEX = "__H_index_H__"
_FOR_IN_LIMIT = "__H_limit_H__"


class StatementsMixin(CompilerBase):
    def program(self, node: Node) -> Code:
        self.scope.begin_scope()
        code: Code = []
        for declaration in node.get("declarations") or []:
            code += self.stmt(declaration)
        code += self.scope.end_scope()
        return code

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
