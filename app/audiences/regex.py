"""Which regular expressions mean the same to PostgreSQL (`~`, ARE flavour) and to the Hog VM (RE2).

Only a conservative subset is pushed down: literal printable ASCII, escaped punctuation, `.`, anchors,
groups (plain and `(?:`), alternation, greedy/lazy quantifiers with bounded counts, simple bracket
classes and the `\\d \\w \\s` class escapes. Everything else (backreferences, lookaround, inline flags,
`\\b`, Unicode escapes, POSIX classes...) is left to the VM.

PostgreSQL's engine is not linear: `(.*){200}(.*){200}b` takes it seconds per connection, so a
quantifier on a group that holds a quantifier, and bounded repeats adding up past 255, are left to the
VM (RE2, linear) too.

Two differences remain inside the subset and are handled by guarding the text instead:
`.`/`$` treat a newline differently, and the class escapes differ outside printable ASCII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.hog.errors import HogVMError
from app.hog.regex import compile_pattern

MAX_PATTERN_LENGTH = 200
_MAX_REPEAT = 255
_CLASS_ESCAPES = set("dws")
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


@dataclass(frozen=True)
class PortablePattern:
    pattern: str
    # The pattern uses `\d`, `\w` or `\s`: the text must be plain ASCII for both engines to agree.
    uses_classes: bool


def portable_pattern(pattern: str) -> PortablePattern | None:
    """The pattern for PostgreSQL when both engines agree on it (on guarded text), else None."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return None
    try:
        compile_pattern(pattern)
    except HogVMError:
        return None  # the VM raises: the whole filter fails, which only the VM can say
    scanner = _Scanner(pattern)
    return PortablePattern(pattern, scanner.uses_classes) if scanner.ok() else None


class _Scanner:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0
        self.uses_classes = False
        # Per open group: whether it holds a quantifier; and the same for the group just closed.
        self.groups: list[bool] = [False]
        self.closed_quantified = False
        self.repeats = 0

    def ok(self) -> bool:
        # `after_atom`: a quantifier may follow; `after_quantifier`: only a lazy `?` may follow.
        after_atom = after_quantifier = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if not " " <= char <= "~":
                return False
            if char in "*+?":
                if after_quantifier and char == "?":
                    self.pos += 1
                    after_atom = after_quantifier = False
                    continue
                if not after_atom or not self._quantify():
                    return False
                self.pos += 1
                after_atom, after_quantifier = False, True
                continue
            if char == "{":
                match = _QUANTIFIER.match(self.text, self.pos)
                if match is None or not after_atom:
                    return False
                low, high = int(match.group(1)), match.group(3)
                if low > _MAX_REPEAT or (high and int(high) > _MAX_REPEAT):
                    return False
                self.repeats += max(low, int(high) if high else 0)
                if self.repeats > _MAX_REPEAT or not self._quantify():
                    return False
                self.pos = match.end()
                after_atom, after_quantifier = False, True
                continue
            after_quantifier = False
            self.closed_quantified = False
            if char == "\\":
                if not self._escape():
                    return False
                after_atom = True
            elif char == "[":
                if not self._bracket():
                    return False
                after_atom = True
            elif char == "(":
                if self.text.startswith("(?", self.pos):
                    if not self.text.startswith("(?:", self.pos):
                        return False
                    self.pos += 3
                else:
                    self.pos += 1
                self.groups.append(False)
                after_atom = False
            elif char in "|^$":
                self.pos += 1
                after_atom = False
            elif char == ")":
                if len(self.groups) < 2:
                    return False
                inner = self.groups.pop()
                self.groups[-1] = self.groups[-1] or inner
                self.pos += 1
                self.closed_quantified = inner
                after_atom = True
            elif char == ".":
                self.pos += 1
                after_atom = True
            elif char in "]}":
                return False
            else:
                self.pos += 1
                after_atom = True
        return True

    def _quantify(self) -> bool:
        """A quantifier on the atom before it: refused on a group that holds one (nested repetition)."""
        if self.closed_quantified:
            return False
        self.groups[-1] = True
        return True

    def _escape(self) -> bool:
        if self.pos + 1 >= len(self.text):
            return False
        char = self.text[self.pos + 1]
        if char in _CLASS_ESCAPES:
            self.uses_classes = True
        elif char.isalnum() or not " " <= char <= "~":
            return False  # \b, \A, \1, \n, \x.. and friends mean different things (or nothing) in ARE
        self.pos += 2
        return True

    def _bracket(self) -> bool:
        self.pos += 1
        if self.text.startswith("^", self.pos):
            self.pos += 1
        first = True
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "]" and not first:
                self.pos += 1
                return True
            if char in "[]" or not " " <= char <= "~":
                return False
            if char in "-&~|" and self.text.startswith(char * 2, self.pos):
                return False  # what Python may one day read as set operations
            if char == "\\":
                if not self._escape():
                    return False
            else:
                self.pos += 1
            first = False
        return False
