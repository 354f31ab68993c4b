"""A filter expression (Hog AST) as a PostgreSQL predicate over a person's `properties` (JSONB).

The predicate is three-valued on purpose:

* TRUE  - the VM would say the person matches;
* FALSE - the VM would say the person does not match (or the filter would fail for them);
* NULL  - SQL cannot tell (a value SQL cannot compare like the VM does, a construct it cannot express).

Each comparison is translated per JSON type of the property (string, number, boolean, null/missing,
object/array) with the VM's coercion rules (`app.hog.values`): a number against a numeric string
compares as numbers, a boolean against `"true"`, missing against `0` for orderings, and so on. The
branches SQL cannot decide exactly (text that Python's `float()` might read, numbers beyond 2**53,
non-ASCII text for case-insensitive matching...) yield NULL, and every such leaf is also listed in
`needs_vm`, because one undecided leaf under an OR that is otherwise TRUE may still make the VM fail.

A row is then decided by SQL alone when `needs_vm` is false; the others are evaluated by the VM.
SQL never claims a match the VM would not make: FALSE prunes, TRUE without `needs_vm` accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Float, Numeric, and_, case, cast, false, func, literal, not_, null, or_, true
from sqlalchemy.sql.elements import ColumnElement

from app.audiences.regex import portable_pattern
from app.hog.errors import HogVMError
from app.hog.printing import to_string
from app.hog.regex import matches as regex_matches
from app.hog.values import get_property, hog_compare, hog_equals, hog_in, like

_EXACT_INT = 2**53
# Bounds compared as NUMERIC (a float parameter would make PostgreSQL cast the value, and overflow).
_EXACT_BOUND = literal(Decimal(_EXACT_INT), Numeric)
_TINY = literal(Decimal("1e-300"), Numeric)
_HUGE = literal(Decimal("1e300"), Numeric)
# What Python's float() surely reads, and what PostgreSQL's numeric input reads the same way.
_WS = "[ \t\n\r\x0b\x0c]*"
_STRICT_NUMBER = f"^{_WS}[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?0*[0-9]{{1,3}})?{_WS}$"
# What Python's float() might read although the strict form does not (underscores, inf, nan...).
_LOOSE_NUMBER = "^[\x01-\x20]*[+-]?([0-9_.]+([eE][+-]?[0-9_]*)?|inf|infinity|nan)[\x01-\x20]*$"
_NON_ASCII = "[^\x01-\x7f]"
# Non-ASCII text may hold Unicode digits or spaces float() accepts, unless it has letters no number has.
_NOT_A_NUMBER_LETTER = "[b-dg-hj-mo-suvwxz]"
_INTEGER_TEXT = "^-?[0-9]+$"
# The only characters whose lowercase (in Python, and in PostgreSQL's case folding) is ASCII.
_FOLDS_TO_ASCII = "[\u0130\u212a]"
_PLAIN_TEXT = "^[\x20-\x7e\t\r\x0b\x0c]*$"

_ORDERING = {">": ">", ">=": ">=", "<": "<", "<=": "<="}
_LIKE_OPS = {"like": (False, False), "ilike": (True, False), "not like": (False, True), "not ilike": (True, True)}
# Globals that differ from one person (or one evaluation) to the next.
_PER_PERSON_GLOBALS = frozenset({"person", "pdi", "distinct_id", "person_id", "uuid", "timestamp"})

NULL_BOOL: ColumnElement[bool] = cast(null(), Boolean)


@dataclass(frozen=True)
class Pushdown:
    predicate: ColumnElement[bool]
    # A necessary condition the GIN index on `properties` can serve (`?`, `@>`), when there is one.
    hint: ColumnElement[bool] | None
    # TRUE for the rows SQL could not decide.
    needs_vm: ColumnElement[bool]
    # No row ever needs the VM.
    exact: bool


# --- translated terms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Json:
    """A person property: `properties -> key` (SQL NULL when missing)."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class _Text:
    """`toString(<person property>)`."""

    json: _Json


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Cond:
    sql: ColumnElement[bool]
    hint: ColumnElement[bool] | None = None


class _Opaque:
    """Something SQL cannot express: the VM decides."""


_OPAQUE = _Opaque()
_Term = _Json | _Text | _Const | _Cond | _Opaque


@dataclass(frozen=True)
class _Branch:
    """The value of a leaf for one JSON type: a constant, None (undecided), or SQL."""

    value: ColumnElement[bool] | bool | None
    maybe_null: bool = False

    @property
    def sql(self) -> ColumnElement[bool]:
        if self.value is True:
            return true()
        if self.value is False:
            return false()
        if self.value is None:
            return NULL_BOOL
        return self.value

    @property
    def undecided(self) -> bool:
        return self.value is None or self.maybe_null

    def negated(self) -> _Branch:
        if self.value is None or isinstance(self.value, bool):
            return _Branch(None if self.value is None else not self.value)
        return _Branch(not_(self.value), self.maybe_null)


_TYPES = ("string", "number", "boolean", "null", "container")


def _vm(fn: Callable[..., Any], *args: Any) -> bool | None:
    """A VM coercion rule applied to constants; None when the VM would raise."""
    try:
        return bool(fn(*args))
    except (HogVMError, TypeError, ValueError):
        return None


def _to_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare_numbers(op: str, left: float, right: float) -> bool:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    return hog_compare(op, left, right)


def _sql_compare(op: str, left: ColumnElement[Any], right: Any) -> ColumnElement[bool]:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    return left.op(_ORDERING[op])(right)


def _constant(node: Mapping[str, Any]) -> Any:
    value = node.get("value")
    if node.get("value_type") == "number" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


def _truthy(term: _Term) -> _Term:
    return _Const(bool(term.value)) if isinstance(term, _Const) else term


# --- the translator -------------------------------------------------------------------------------


@dataclass
class _Translator:
    properties: ColumnElement[Any]
    constants: Mapping[str, Any]
    undecided: list[ColumnElement[bool]] = field(default_factory=list)
    opaque: bool = False

    # expressions

    def term(self, node: Any) -> _Term:
        if not isinstance(node, Mapping):
            return _OPAQUE
        kind = node.get("node")
        if kind == "Constant":
            return _Const(_constant(node))
        if kind == "Field":
            return self._field(list(node.get("chain") or []))
        if kind in ("Tuple", "Array"):
            items = [self.term(item) for item in node.get("exprs") or []]
            if all(isinstance(item, _Const) for item in items):
                values = [item.value for item in items if isinstance(item, _Const)]
                return _Const(tuple(values) if kind == "Tuple" else values)
            return _OPAQUE
        if kind == "And" or kind == "Or":
            return self._logic(kind == "And", [self.term(item) for item in node.get("exprs") or []])
        if kind == "Not":
            return self._not(self.term(node.get("expr")))
        if kind == "CompareOperation":
            return self._compare(str(node.get("op")), self.term(node.get("left")), self.term(node.get("right")))
        if kind == "Call":
            return self._call(str(node.get("name")), [self.term(arg) for arg in node.get("args") or []])
        return _OPAQUE

    def condition(self, term: _Term) -> _Cond:
        """A term used as a boolean (an operand of AND/OR/NOT)."""
        if isinstance(term, _Cond):
            return term
        if isinstance(term, _Const):
            return _Cond(true() if term.value else false())
        self.opaque = True
        return _Cond(NULL_BOOL)

    def _field(self, chain: list[Any]) -> _Term:
        if not chain or not isinstance(chain[0], str):
            return _OPAQUE
        if chain[0] == "person":
            if len(chain) >= 3 and chain[1] == "properties" and all(isinstance(part, str) for part in chain[2:]):
                return _Json(tuple(chain[2:]))
            return _OPAQUE
        if chain[0] in _PER_PERSON_GLOBALS or chain[0] not in self.constants:
            return _OPAQUE
        value = self.constants[chain[0]]
        try:
            for part in chain[1:]:
                value = get_property(value, part)
        except HogVMError:
            return _OPAQUE
        return _Const(value)

    def _logic(self, is_and: bool, terms: list[_Term]) -> _Term:
        terms = [_truthy(term) for term in terms]
        if all(isinstance(term, _Const) for term in terms):
            values = [bool(term.value) for term in terms if isinstance(term, _Const)]
            return _Const(all(values) if is_and else any(values))
        conditions = [self.condition(term) for term in terms]
        sql = and_(*(c.sql for c in conditions)) if is_and else or_(*(c.sql for c in conditions))
        hints = [c.hint for c in conditions if c.hint is not None]
        hint: ColumnElement[bool] | None = None
        if is_and and hints:
            hint = and_(*hints)
        elif not is_and and len(hints) == len(conditions):
            hint = or_(*hints)
        return _Cond(sql, hint)

    def _not(self, term: _Term) -> _Term:
        if isinstance(term, _Const):
            return _Const(not term.value)
        return _Cond(not_(self.condition(term).sql))

    def _call(self, name: str, args: list[_Term]) -> _Term:
        if name in ("and", "or"):
            return self._logic(name == "and", args)
        if name == "not" and len(args) == 1:
            return self._not(args[0])
        if name == "toString" and len(args) in (1, 2):
            if isinstance(args[0], _Json):
                return _Text(args[0])
            if isinstance(args[0], _Const):
                return _Const(to_string(args[0].value))
        if name == "ifNull" and len(args) == 2:
            if isinstance(args[0], _Cond):
                return args[0]  # a comparison or match() is never null
            if isinstance(args[0], _Const) and isinstance(args[1], _Const):
                return args[0] if args[0].value is not None else args[1]
        if name == "match" and len(args) == 2:
            return self._match(args[0], args[1])
        if name == "multiSearchAnyCaseInsensitive" and len(args) == 2:
            return self._multi_search(args[0], args[1])
        return _OPAQUE

    def _compare(self, op: str, left: _Term, right: _Term) -> _Term:
        if isinstance(left, _Const) and isinstance(right, _Const):
            return self._compare_constants(op, left.value, right.value)
        if isinstance(left, _Cond) and isinstance(right, _Const) and (op in _ORDERING or op in ("==", "!=")):
            return self._compare_condition(op, left, right.value)
        if isinstance(left, _Json) and isinstance(right, _Const):
            if op == "==" or op == "!=":
                return self._equals(left, right.value, negate=op == "!=")
            if op in _ORDERING:
                return self._ordering(op, left, right.value)
            if op in ("in", "not in") and isinstance(right.value, (list, tuple)):
                return self._in(left, list(right.value), negate=op == "not in")
        if isinstance(left, _Text) and isinstance(right, _Const) and op in _LIKE_OPS:
            return self._like(op, left, right.value)
        return _OPAQUE

    def _compare_constants(self, op: str, left: Any, right: Any) -> _Term:
        result: bool | None = None
        if op == "==" or op == "!=":
            result = _vm(hog_equals, left, right)
            result = None if result is None else result == (op == "==")
        elif op in _ORDERING:
            result = _vm(hog_compare, op, left, right)
        elif op in ("in", "not in"):
            result = _vm(hog_in, left, right)
            result = None if result is None else result == (op == "in")
        elif op in _LIKE_OPS:
            insensitive, negate = _LIKE_OPS[op]
            matched = like(left, right, case_insensitive=insensitive)
            result = matched != negate
        return _OPAQUE if result is None else _Const(result)

    def _compare_condition(self, op: str, condition: _Cond, value: Any) -> _Term:
        """`multiSearch...(...) > 0` and the like: the condition is a boolean on the VM's side."""

        def outcome(flag: bool) -> bool | None:
            if op == "==" or op == "!=":
                equal = _vm(hog_equals, flag, value)
                return None if equal is None else equal == (op == "==")
            return _vm(hog_compare, op, flag, value)

        when_true, when_false = outcome(True), outcome(False)
        if when_true is None or when_false is None:
            return _OPAQUE
        sql = case((condition.sql, _Branch(when_true).sql), (not_(condition.sql), _Branch(when_false).sql))
        return _Cond(sql if when_true != when_false else (true() if when_true else false()))

    # leaves over one property

    def _json(self, path: tuple[str, ...]) -> ColumnElement[Any]:
        return self.properties[path[0]] if len(path) == 1 else self.properties[path]

    def _text_of(self, path: tuple[str, ...]) -> ColumnElement[str]:
        return self._json(path).astext

    def _leaf(
        self, path: tuple[str, ...], branches: dict[str, _Branch], *, negate: bool = False, hint: Any = None
    ) -> _Cond:
        if negate:
            branches = {name: branch.negated() for name, branch in branches.items()}
            hint = None
        values = [branches[name] for name in _TYPES]
        if all(isinstance(b.value, bool) for b in values) and len({b.value for b in values}) == 1:
            return _Cond(true() if values[0].value else false())
        kind = func.coalesce(func.jsonb_typeof(self._json(path)), literal("null"))
        sql: ColumnElement[bool] = case(
            {name: branches[name].sql for name in _TYPES[:4]}, value=kind, else_=branches["container"].sql
        )
        if any(b.undecided for b in values):
            self.undecided.append(sql)
        if hint is None and branches["null"].value is False and len(path) == 1:
            hint = self.properties.has_key(path[0])
        return _Cond(sql, hint)

    def _boolean_branch(self, path: tuple[str, ...], rule: Callable[[bool], bool | None]) -> _Branch:
        when_true, when_false = rule(True), rule(False)
        if when_true == when_false:
            return _Branch(when_true)
        sql = case((cast(self._json(path), Boolean), _Branch(when_true).sql), else_=_Branch(when_false).sql)
        return _Branch(sql, maybe_null=when_true is None or when_false is None)

    def _number_branch(self, path: tuple[str, ...], op: str, target: Any) -> _Branch:
        """A JSON number compared with a number, as Python compares floats and ints."""
        if isinstance(target, bool):
            target = int(target)
        if isinstance(target, float) and math.isnan(target):
            return _Branch(False)
        if isinstance(target, int) and abs(target) > _EXACT_INT:
            return _Branch(None)
        number = cast(self._json(path), Numeric)
        exact = and_(func.abs(number) < _EXACT_BOUND, or_(number == 0, func.abs(number) >= _TINY))
        compared = _sql_compare(op, cast(number, Float), literal(float(target), Float))
        return _Branch(case((exact, compared), else_=NULL_BOOL), maybe_null=True)

    def _numeric_text_branch(self, text: ColumnElement[str], op: str, target: Any) -> _Branch:
        """A string compared with a number: the VM reads the string with Python's float()."""
        if isinstance(target, bool):
            target = int(target)
        if isinstance(target, float) and math.isnan(target):
            return _Branch(False)
        if isinstance(target, int) and abs(target) > _EXACT_INT:
            return _Branch(None)
        strict = and_(func.length(text) <= 200, text.bool_op("~")(_STRICT_NUMBER))
        number = cast(text, Numeric)
        in_range = and_(func.abs(number) <= _HUGE, or_(number == 0, func.abs(number) >= _TINY))
        compared = _sql_compare(op, cast(number, Float), literal(float(target), Float))
        maybe_number = or_(
            and_(text.bool_op("~")(_NON_ASCII), not_(text.bool_op("~*")(_NOT_A_NUMBER_LETTER))),
            text.bool_op("~*")(_LOOSE_NUMBER),
        )
        sql = case(
            (strict, case((in_range, compared), else_=NULL_BOOL)),
            (maybe_number, NULL_BOOL),
            else_=false(),
        )
        return _Branch(sql, maybe_null=True)

    def _equals(self, json: _Json, value: Any, *, negate: bool) -> _Term:
        path = json.path
        text = self._text_of(path)
        branches: dict[str, _Branch]
        hint = None
        if value is None:
            branches = {"string": _Branch(False), "number": _Branch(False), "boolean": _Branch(False)}
            branches |= {"null": _Branch(True), "container": _Branch(False)}
        elif isinstance(value, bool):
            string = (text == "true") if value else (text != "true")
            branches = {"string": _Branch(string), "number": self._number_branch(path, "==", value)}
            branches["boolean"] = self._boolean_branch(path, lambda flag: flag == value)
            branches |= {"null": _Branch(False), "container": _Branch(False)}
        elif isinstance(value, (int, float)):
            branches = {
                "string": self._numeric_text_branch(text, "==", value),
                "number": self._number_branch(path, "==", value),
                "boolean": self._boolean_branch(path, lambda flag: _vm(hog_equals, flag, value)),
                "null": _Branch(False),
                "container": _Branch(False),
            }
        elif isinstance(value, str):
            number = _to_number(value)
            branches = {
                "string": _Branch(text == value),
                "number": _Branch(False) if number is None else self._number_branch(path, "==", number),
                "boolean": self._boolean_branch(path, lambda flag: flag == (value == "true")),
                "null": _Branch(False),
                "container": _Branch(False),
            }
            if number is None and len(path) == 1:
                # Exactly the string, or the boolean the VM reads it as: both served by the GIN index.
                hint = or_(
                    self.properties.contains({path[0]: value}),
                    self.properties.contains({path[0]: value == "true"}),
                )
        else:
            return _OPAQUE
        return self._leaf(path, branches, negate=negate, hint=hint)

    def _ordering(self, op: str, json: _Json, value: Any) -> _Term:
        path = json.path
        text = self._text_of(path)
        string: _Branch
        if isinstance(value, str):
            string = _Branch(_sql_compare(op, text.collate("C"), value))
            number = _to_number(value)
            number_branch = _Branch(False) if number is None else self._number_branch(path, op, number)
        elif isinstance(value, bool):
            string = _Branch(
                case(
                    (text == "true", _Branch(_vm(hog_compare, op, True, value)).sql),
                    else_=_Branch(_vm(hog_compare, op, False, value)).sql,
                ),
            )
            number_branch = self._number_branch(path, op, value)
        elif isinstance(value, (int, float)):
            string = self._numeric_text_branch(text, op, value)
            number_branch = self._number_branch(path, op, value)
        elif value is None:
            string = _Branch(False)
            number_branch = self._number_branch(path, op, 0)
        else:
            return _OPAQUE
        branches = {
            "string": string,
            "number": number_branch,
            "boolean": self._boolean_branch(path, lambda flag: _vm(hog_compare, op, flag, value)),
            "null": _Branch(_vm(hog_compare, op, None, value)),
            # Comparing an object or array raises in the VM unless the other side is null.
            "container": _Branch(False if value is None else None),
        }
        return self._leaf(path, branches)

    def _in(self, json: _Json, values: list[Any], *, negate: bool) -> _Term:
        if not values:
            return _Const(negate)
        members = [self._equals(json, value, negate=False) for value in values]
        if any(isinstance(member, _Opaque) for member in members):
            return _OPAQUE
        combined = self._logic(False, members)
        return self._not(combined) if negate else combined

    def _text_leaf(
        self,
        text_term: _Text,
        rule: Callable[[str], bool | None],
        sql_rule: Callable[[ColumnElement[str]], ColumnElement[bool]],
        guard: Callable[[ColumnElement[str]], ColumnElement[bool]],
    ) -> _Cond:
        """A predicate over `toString(property)`: constants for null/booleans, SQL for strings and integers."""
        path = text_term.json.path
        text = self._text_of(path)
        integer = case((text.bool_op("~")(_INTEGER_TEXT), sql_rule(text)), else_=NULL_BOOL)
        branches = {
            "string": _Branch(case((guard(text), sql_rule(text)), else_=NULL_BOOL), maybe_null=True),
            "number": _Branch(integer, maybe_null=True),
            "boolean": self._boolean_branch(path, lambda flag: rule("true" if flag else "false")),
            "null": _Branch(rule("null")),
            "container": _Branch(None),
        }
        return self._leaf(path, branches)

    def _like(self, op: str, text_term: _Text, pattern: Any) -> _Term:
        insensitive, negate = _LIKE_OPS[op]
        # The VM's LIKE is unanchored; only `%...%` patterns mean the same anchored in SQL.
        if not isinstance(pattern, str) or not insensitive or not pattern.isascii():
            return _OPAQUE
        if len(pattern) < 2 or not pattern.startswith("%") or not pattern.endswith("%"):
            return _OPAQUE
        sql_pattern = pattern.replace("\\", "\\\\")  # a backslash is literal for the VM

        def rule(text: str) -> bool:
            return like(text, pattern, case_insensitive=True) != negate

        def sql_rule(text: ColumnElement[str]) -> ColumnElement[bool]:
            matched = text.bool_op("ILIKE")(sql_pattern)
            return not_(matched) if negate else matched

        return self._text_leaf(text_term, rule, sql_rule, lambda text: not_(text.bool_op("~")(_FOLDS_TO_ASCII)))

    def _match(self, subject: _Term, pattern_term: _Term) -> _Term:
        if isinstance(subject, _Const) and isinstance(pattern_term, _Const):
            subject_value, pattern_value = subject.value, pattern_term.value
            if not isinstance(subject_value, str) or not isinstance(pattern_value, str):
                return _Const(False)
            if portable_pattern(pattern_value) is None:
                return _OPAQUE
            try:
                return _Const(regex_matches(pattern_value, subject_value))
            except HogVMError:
                return _OPAQUE  # too much work for a constant: the VM decides, and fails the same way
        if not isinstance(subject, _Text) or not isinstance(pattern_term, _Const):
            return _OPAQUE
        pattern = pattern_term.value
        if not isinstance(pattern, str):
            return _Const(False)
        portable = portable_pattern(pattern)
        if portable is None:
            return _OPAQUE

        def guard(text: ColumnElement[str]) -> ColumnElement[bool]:
            no_newline = func.strpos(text, "\n") == 0
            return and_(no_newline, text.bool_op("~")(_PLAIN_TEXT)) if portable.uses_classes else no_newline

        return self._text_leaf(
            subject,
            lambda text: regex_matches(pattern, text),
            lambda text: text.bool_op("~")(portable.pattern),
            guard,
        )

    def _multi_search(self, subject: _Term, needles_term: _Term) -> _Term:
        if not isinstance(needles_term, _Const) or not isinstance(needles_term.value, (list, tuple)):
            return _OPAQUE
        needles = [needle for needle in needles_term.value if isinstance(needle, str)]
        if isinstance(subject, _Const):
            if not isinstance(subject.value, str):
                return _Const(False)
            return _Const(any(needle.lower() in subject.value.lower() for needle in needles))
        if not isinstance(subject, _Text) or not all(needle.isascii() for needle in needles):
            return _OPAQUE
        lowered = [needle.lower() for needle in needles]

        def sql_rule(text: ColumnElement[str]) -> ColumnElement[bool]:
            if not lowered:
                return false()
            return or_(*(func.strpos(func.lower(text), needle) > 0 for needle in lowered))

        return self._text_leaf(
            subject,
            lambda text: any(needle in text.lower() for needle in lowered),
            sql_rule,
            lambda text: not_(text.bool_op("~")(_FOLDS_TO_ASCII)),
        )


def build_pushdown(
    expression: Mapping[str, Any], properties: ColumnElement[Any], constants: Mapping[str, Any]
) -> Pushdown:
    """Translate a filter expression into a predicate over `properties` (a JSONB column expression).

    `constants` are the filter globals that are the same for every person (the synthetic event,
    groups, variables); fields under them are folded to constants.
    """
    translator = _Translator(properties=properties, constants=constants)
    root = translator.term(expression)
    hint: ColumnElement[bool] | None = None
    if isinstance(root, _Cond):
        predicate, hint = root.sql, root.hint
    elif isinstance(root, _Const):
        # Only the boolean `true` counts as a match (an "always true" placeholder `1` does not).
        predicate = true() if root.value is True else false()
    else:
        translator.opaque = True
        predicate = NULL_BOOL
    if translator.opaque:
        needs_vm: ColumnElement[bool] = true()
    elif translator.undecided:
        needs_vm = or_(*(leaf.is_(None) for leaf in translator.undecided))
    else:
        needs_vm = false()
    exact = not translator.opaque and not translator.undecided
    return Pushdown(predicate=predicate, hint=hint, needs_vm=needs_vm, exact=exact)
