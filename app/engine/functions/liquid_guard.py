"""A linear check of Liquid source before python-liquid's lexer sees it.

python-liquid lexes with fixed Python regexes that backtrack on some input: every `{{` without a later
`}}` rescans to the end (32 KB of `{{`: 110 s), a tag body of only whitespace costs its length
squared, the `{% liquid %}` line rule and the inline comment rule cost a whitespace run's length
squared, and the expression lexer rescans from each `(` to the next `..` and from each `['` to the
next `']`. A single regex call cannot be interrupted, so the source is refused before parsing when
any of these could happen:

- an opener without a closer after it (LiquidJS refuses these too: "output "{{" not closed");
- a `{%` without a tag name (python-liquid refuses it too, after the scan);
- a `{% raw %}` or `{% doc %}` without its end tag;
- a run of more than `MAX_WHITESPACE_RUN` whitespace characters inside `{{ }}` or `{% %}`;
- brackets x body length, summed over the tags, above `MAX_BRACKET_WORK`.

With these excluded every lexer rule either matches at once or fails after a bounded number of steps,
and each matched token consumes what it scanned, so lexing is linear in the source (tests time the
hostile families).
"""

import re

MAX_WHITESPACE_RUN = 20
MAX_BRACKET_WORK = 1_000_000

# A fixed pattern with a bounded repeat: at most MAX_WHITESPACE_RUN + 1 steps per position.
_LONG_WHITESPACE = re.compile(rf"\s{{{MAX_WHITESPACE_RUN + 1}}}")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'"), ("&amp;", "&"))
_CLOSERS = {"{": "}}", "%": "%}"}


class LiquidSourceError(Exception):
    pass


def decode_markup_entities(source: str) -> str:
    """HTML entities inside `{{ }}` and `{% %}` decoded, as PostHog does: its email editor (Unlayer)
    writes `{% if a &gt; b %}`. One forward pass: an opener without a closer is left as it is."""
    out: list[str] = []
    cursor = 0
    exhausted: set[str] = set()
    while True:
        start = source.find("{", cursor)
        if start < 0:
            break
        closer = _CLOSERS.get(source[start + 1 : start + 2])
        end = source.find(closer, start + 2) if closer and closer not in exhausted else -1
        if end < 0:
            if closer:
                exhausted.add(closer)
            out.append(source[cursor : start + 1])
            cursor = start + 1
            continue
        markup = source[start : end + 2]
        for entity, char in _ENTITIES:
            markup = markup.replace(entity, char)
        out.append(source[cursor:start])
        out.append(markup)
        cursor = end + 2
    out.append(source[cursor:])
    return "".join(out)


def check_source(source: str) -> None:
    """Raise `LiquidSourceError` when python-liquid's lexer could take more than linear time."""
    work = 0
    position = 0
    while True:
        start = source.find("{", position)
        if start < 0 or start + 1 >= len(source):
            return
        kind = source[start + 1]
        if kind == "{":
            end = _closer(source, start, start + 2, "}}", "output")
            work += _check_body(source, start, start + 2, end)
            position = end + 2
        elif kind == "%":
            name_start, name_end = _tag_name(source, start)
            if name_start == name_end:
                raise LiquidSourceError(f'Liquid tag "{{%" has no name ({_where(source, start)})')
            name = source[name_start:name_end]
            opener_end = _block_opener_end(source, name_end) if name in ("raw", "doc") else -1
            if opener_end >= 0:
                position = _end_tag(source, opener_end, "end" + name, start)
                continue
            end = _closer(source, start, name_end, "%}", "tag")
            work += _check_body(source, start, name_end, end)
            position = end + 2
        else:
            position = start + 1
            continue
        if work > MAX_BRACKET_WORK:
            raise LiquidSourceError("Liquid template is too complex: too many brackets in long tags")


def _closer(source: str, start: int, position: int, closer: str, kind: str) -> int:
    end = source.find(closer, position)
    if end < 0:
        raise LiquidSourceError(f'Liquid {kind} "{source[start : start + 2]}" not closed ({_where(source, start)})')
    return end


def _check_body(source: str, start: int, body_start: int, end: int) -> int:
    body = source[body_start:end]
    if _LONG_WHITESPACE.search(body):
        raise LiquidSourceError(
            f"Liquid tag has more than {MAX_WHITESPACE_RUN} whitespace characters in a row ({_where(source, start)})"
        )
    return (body.count("(") + body.count("[")) * len(body)


def _skip_space(source: str, index: int) -> int:
    while index < len(source) and source[index].isspace():
        index += 1
    return index


def _tag_name(source: str, start: int) -> tuple[int, int]:
    """Where the lexer's `{%-?\\s*(#|\\w+)` finds the name (an empty span when there is none)."""
    index = start + 2
    if source.startswith("-", index):
        index += 1
    index = _skip_space(source, index)
    if source.startswith("#", index):
        return index, index + 1
    end = index
    while end < len(source) and (source[end].isalnum() or source[end] == "_"):
        end += 1
    return index, end


def _block_opener_end(source: str, name_end: int) -> int:
    """The end of `\\s*-?%}` after a `raw`/`doc` name (the lexer's RAW/DOC rule), or -1."""
    index = _skip_space(source, name_end)
    if source.startswith("-", index):
        index += 1
    return index + 2 if source.startswith("%}", index) else -1


def _end_tag(source: str, position: int, name: str, opener: int) -> int:
    while True:
        start = source.find("{%", position)
        if start < 0:
            raise LiquidSourceError(f"Liquid tag {{% {name[3:]} %}} not closed ({_where(source, opener)})")
        name_start, name_end = _tag_name(source, start)
        if source[name_start:name_end] == name:
            end = _block_opener_end(source, name_end)
            if end >= 0:
                return end
        position = start + 2


def _where(source: str, index: int) -> str:
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"
