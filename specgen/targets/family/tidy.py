"""The constructor's and forward's lines tidied as a person would write them: a container made
and filled at once is one `nn.Sequential(...)`, a call under a flag is a conditional
expression, and a size nothing reads is not computed."""

from __future__ import annotations

import re


def collapse(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`X = nn.Sequential()` followed only by `X.append(...)` lines, with `X` used nowhere
    after: `X = nn.Sequential(a, b, ...)`, as one would write it (the same keys)."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        level, text = lines[i]
        target = None
        if text.endswith(" = nn.Sequential()"):
            target, make = text[: -len(" = nn.Sequential()")], "{} = nn.Sequential({})"
        elif text == "self.append(nn.Sequential())" and i + 1 < len(lines):
            nxt = lines[i + 1][1]
            if nxt.startswith("self[") and "].append(" in nxt:
                target, make = nxt[: nxt.index("].append(") + 1], "self.append(nn.Sequential({1}))"
        if target is None:
            out.append(lines[i])
            i += 1
            continue
        j, items = i + 1, []
        prefix = f"{target}.append("
        while j < len(lines) and lines[j][0] == level and lines[j][1].startswith(prefix):
            items.append(lines[j][1][len(prefix) : -1])
            j += 1
        rest = " ".join(t for _, t in lines[j:])
        if not items or f"{target}." in rest or f"{target}[" in rest or f"{target})" in rest:
            out.append(lines[i])
            i += 1
            continue
        out.append((level, make.format(target, ", ".join(items))))
        i = j
    return out


def conditional_calls(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`v = s` / `if f:` / `    v = call(v)`, with no `else`: `v = call(s) if f else s`."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        if i + 2 < len(lines):
            (l0, a), (l1, b), (l2, c) = lines[i], lines[i + 1], lines[i + 2]
            after = lines[i + 3] if i + 3 < len(lines) else (l0, "")
            if l0 == l1 and l2 == l1 + 1 and b.startswith("if ") and " = " in a:
                var, source = a.split(" = ", 1)
                if (
                    c.startswith(f"{var} = ")
                    and c.count(f"({var})") == 1
                    and not (
                        after[0] > l0 or after[1] in ("else:",) or after[1].startswith("elif")
                    )
                    and source.isidentifier()
                ):
                    call = c[len(var) + 3 :].replace(f"({var})", f"({source})")
                    out.append((l0, f"{var} = {call} if {b[3:-1]} else {source}"))
                    i += 3
                    continue
        out.append(lines[i])
        i += 1
    return out


def merge_pairs(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`fold_pairs(self, [a])` / `fold_pairs(self, [b])` one after another: one call
    `fold_pairs(self, [a, b])`."""
    head = "fold_pairs(self, ["
    out: list[tuple[int, str]] = []
    for level, text in lines:
        if out and out[-1][0] == level and out[-1][1].startswith(head) and text.startswith(head):
            out[-1] = (level, f"{out[-1][1][:-2]}, {text[len(head):]}")
        else:
            out.append((level, text))
    return out


_SIZE_READ = re.compile(r"\bsize\b")


def prune_sizes(lines: list[tuple[int, str]], keep_last: bool) -> list[tuple[int, str]]:
    """Drop the `size = ...` lines whose value nothing reads (`keep_last`: the last one is
    read after these lines, as `self.out_size`)."""
    out = []
    for i, (level, text) in enumerate(lines):
        if text.startswith("size = "):
            read = False
            for later_level, later in lines[i + 1 :]:
                if later.startswith("size = ") and later_level <= level:
                    if _SIZE_READ.search(later[len("size = ") :]):
                        read = True
                    break
                if _SIZE_READ.search(later):
                    read = True
                    break
            else:
                read = read or keep_last
            if not read:
                continue
        out.append((level, text))
    return out


_CHANNELS_READ = re.compile(r"\bchannels\b")


def prune_channels(lines: list[tuple[int, str]], keep_last: bool) -> list[tuple[int, str]]:
    """Drop the `channels = ...` lines whose value nothing reads (`keep_last`: the value
    left at the end is read after these lines); a loop's are kept (its next turn reads them)."""
    out = []
    for i, (level, text) in enumerate(lines):
        assigns = text.startswith("channels = ") and not _in_loop(lines, i)
        if assigns and not _read_after(lines, i, keep_last):
            continue
        out.append((level, text))
    return out


def _read_after(lines: list[tuple[int, str]], i: int, keep_last: bool) -> bool:
    """Whether the `channels` assigned at line `i` is read by a line that can run after it:
    the `else`/`elif` branches beside the one holding it cannot, and an assignment at the
    level reached so far overwrites it."""
    level = lines[i][0]
    j = i + 1
    while j < len(lines):
        later_level, later = lines[j]
        if later_level < level:
            level = later_level  # out of the block that held the line
            if later.startswith(("else:", "elif ")):  # another branch: skip its body
                j += 1
                while j < len(lines) and lines[j][0] > later_level:
                    j += 1
                continue
        assigned = later.startswith("channels = ")
        if _CHANNELS_READ.search(later[len("channels = ") :] if assigned else later):
            return True
        if assigned and later_level <= level:
            return False
        j += 1
    return keep_last


def _in_loop(lines: list[tuple[int, str]], i: int) -> bool:
    level = lines[i][0]
    for back_level, text in reversed(lines[:i]):
        if back_level < level:
            if text.startswith(("for ", "while ")):
                return True
            level = back_level
    return False
