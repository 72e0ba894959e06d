"""Documents: text with optional line breaks (Wadler / prettier), printed flat where they
fit in `WIDTH` columns and broken where they do not, and the output lines assembled with
their trailing comments aligned."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 99  # the line length brackets are broken at (the project's black line length)
INDENT = 4


class _Line:
    """A place the printer may break: a space (or nothing, when `soft`) when its group fits
    on the line, a newline when it does not; `hard` always breaks."""

    __slots__ = ("soft", "hard")

    def __init__(self, soft: bool = False, hard: bool = False):
        self.soft, self.hard = soft, hard


LINE, SOFT, HARD = _Line(), _Line(soft=True), _Line(hard=True)


class _Nest:
    __slots__ = ("n", "doc")

    def __init__(self, n: int, doc: object):
        self.n, self.doc = n, doc


class _IfBreak:
    __slots__ = ("broken", "flat")

    def __init__(self, broken: object, flat: object):
        self.broken, self.flat = broken, flat


class _Trail:
    """A comment at the end of the current line."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Note:
    """A comment on a line of its own (a hard line follows it)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Group:
    """Printed flat if it fits, else broken; `hard` (a comment or a trailing comma inside,
    here or in a nested group) always breaks it."""

    __slots__ = ("doc", "hard")

    def __init__(self, doc: list, hard: bool = False):
        self.doc = doc
        self.hard = hard or _has_hard(doc)


def _has_hard(doc: object) -> bool:
    stack = [doc]
    while stack:
        d = stack.pop()
        if isinstance(d, list):
            stack.extend(d)
        elif isinstance(d, _Group):
            if d.hard:
                return True
        elif isinstance(d, _Nest):
            stack.append(d.doc)
        elif isinstance(d, _IfBreak):
            stack.extend((d.broken, d.flat))
        elif isinstance(d, (_Trail, _Note)) or (isinstance(d, _Line) and d.hard):
            return True
    return False


@dataclass
class _Out:
    """One output line: its code (with indentation), the comment that trails it, and its
    kind: `code`, `note` (a comment alone on its line, in `code`), `cont` (a comment that
    continues the trailing comment above it, aligned with it) or `blank`."""

    code: str
    comment: str | None = None
    kind: str = "code"


def _fits(doc: object, rest: list, width: int) -> bool:
    """Whether `doc`, flat, and what follows it up to the next line break fit in `width`."""
    cmds: list[tuple[bool, object]] = [(False, doc)]
    i = len(rest) - 1
    while width >= 0:
        if not cmds:
            if i < 0:
                return True
            cmds.append((rest[i][1], rest[i][2]))
            i -= 1
            continue
        broken, d = cmds.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            cmds.extend((broken, x) for x in reversed(d))
        elif isinstance(d, _Nest):
            cmds.append((broken, d.doc))
        elif isinstance(d, _Group):
            cmds.append((broken or d.hard, d.doc))
        elif isinstance(d, _IfBreak):
            cmds.append((broken, d.broken if broken else d.flat))
        elif isinstance(d, _Line):
            if broken or d.hard:
                return True
            width -= 0 if d.soft else 1
    return False


def _render(doc: object, indent: int) -> list[_Out]:
    out: list[_Out] = []
    cur, pos, comment, kind = [" " * indent], indent, None, "code"
    stack: list[tuple[int, bool, object]] = [(indent, True, doc)]
    while stack:
        ind, broken, d = stack.pop()
        if isinstance(d, str):
            cur.append(d)
            pos += len(d)
        elif isinstance(d, list):
            stack.extend((ind, broken, x) for x in reversed(d))
        elif isinstance(d, _Nest):
            stack.append((ind + d.n, broken, d.doc))
        elif isinstance(d, _Group):
            flat = not d.hard and (not broken or _fits(d.doc, stack, WIDTH - pos))
            stack.append((ind, not flat, d.doc))
        elif isinstance(d, _IfBreak):
            stack.append((ind, broken, d.broken if broken else d.flat))
        elif isinstance(d, _Line):
            if broken or d.hard:
                out.append(_Out("".join(cur).rstrip(), comment, kind))
                cur, pos, comment, kind = [" " * ind], ind, None, "code"
            elif not d.soft:
                cur.append(" ")
                pos += 1
        elif isinstance(d, _Trail):
            comment = d.text
        elif isinstance(d, _Note):
            cur.append(d.text)
            kind = "note"
    out.append(_Out("".join(cur).rstrip(), comment, kind))
    return out


def _assemble(outs: list[_Out]) -> str:
    """The text: trailing comments of consecutive lines aligned two spaces past the longest
    of those lines (as gofmt aligns them), continuation comments under them."""
    lines: list[str] = []
    i = 0
    while i < len(outs):
        o = outs[i]
        if o.kind == "code" and o.comment is not None:
            j = i + 1
            while j < len(outs) and (
                outs[j].kind == "cont" or outs[j].kind == "code" and outs[j].comment is not None
            ):
                j += 1
            col = max(len(outs[k].code) for k in range(i, j) if outs[k].kind == "code") + 2
            lines.extend(outs[k].code.ljust(col) + str(outs[k].comment) for k in range(i, j))
            i = j
            continue
        if o.kind == "cont":  # never alone; kept rather than lost if it were
            lines.append(o.code + str(o.comment))
        else:
            lines.append(o.code)
        i += 1
    return "\n".join(lines) + "\n" if lines else ""
