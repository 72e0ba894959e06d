"""Regenerate the word lists of the two highlighters from the compiler's tables.

specgen/tools/highlight.py (the Pygments lexer) writes its word lists out rather than importing
the compiler, because Pygments loads every plugin lexer whenever it looks a name up; and
editors/conv.tmLanguage.json (the TextMate grammar of the editors) is JSON.  So both are
generated here, from the tables the compiler reads:

- layers: `specgen.layers.OPS` and its `ALIASES`;
- composites: `specgen.language.words.COMPOSITES`;
- functions: `specgen.language.expr.FUNCTIONS` and `specgen.language.domains.DOMAIN_FUNCTIONS`;
- cost terms: `specgen.language.domains.COST_TERMS`;
- constants: `specgen.language.expr.CONSTANTS`.

    python scripts/sync_words.py           # rewrite what is stale
    python scripts/sync_words.py --check   # exit 1 naming what is stale, write nothing

tests/test_highlight.py runs `--check`, so a new layer, function or constant cannot be left
out of either highlighter.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEXER = ROOT / "specgen" / "tools" / "highlight.py"
TEXTMATE = ROOT / "editors" / "conv.tmLanguage.json"
WIDTH = 99  # the project's line length (pyproject.toml)

# word list -> the scope of the TextMate rule whose alternation holds the same words
SCOPES = {
    "LAYERS": "support.type.layer.conv",
    "COMPOSITES": "keyword.control.composite.conv",
    "FUNCTIONS": "support.function.builtin.conv",
    "COST_TERMS": "support.variable.cost.conv",
    "CONSTANTS": "constant.language.boolean.conv",
}

# `(?<![A-Za-z_0-9])(word|word|...)`: the alternation a rule's match starts with
_ALTERNATION = re.compile(r"^(\(\?<!\[A-Za-z_0-9\]\)\()([A-Za-z_0-9|]*)(\).*)$", re.S)


def word_lists() -> dict[str, tuple[str, ...]]:
    """Each list of highlight.py as the compiler's tables give it: the layers sorted, the
    others in their table's order (the functions of expressions sorted, then the domains')."""
    from specgen.language import domains, expr, words
    from specgen.layers import ALIASES, OPS

    functions = sorted(expr.FUNCTIONS)
    functions += [f for f in domains.DOMAIN_FUNCTIONS if f not in expr.FUNCTIONS]
    return {
        "LAYERS": tuple(sorted({*OPS, *ALIASES})),
        "COMPOSITES": tuple(words.COMPOSITES),
        "FUNCTIONS": tuple(functions),
        "COST_TERMS": tuple(domains.COST_TERMS),
        "CONSTANTS": tuple(expr.CONSTANTS),
    }


def python_tuple(name: str, items: tuple[str, ...]) -> str:
    """`NAME = ("a", "b")` on one line where it fits, else packed lines under `# fmt: skip`
    (black would put one word a line)."""
    quoted = [f'"{item}"' for item in items]
    one_line = f"{name} = ({', '.join(quoted)}{',' if len(items) == 1 else ''})"
    if len(one_line) <= WIDTH:
        return one_line
    lines: list[str] = []
    line = "   "
    for q in quoted:
        if len(line) + 1 + len(q) + 1 > WIDTH:
            lines.append(line)
            line = "   "
        line += f" {q},"
    lines.append(line)
    return "\n".join([f"{name} = (", *lines, ")  # fmt: skip"])


def alternation(items: tuple[str, ...]) -> str:
    """The words for a TextMate alternation, longest first (then alphabetical)."""
    return "|".join(sorted(items, key=lambda w: (-len(w), w)))


def synced_lexer(text: str, lists: dict[str, tuple[str, ...]]) -> tuple[str, list[str]]:
    """highlight.py's text with its word lists regenerated, and the names that changed."""
    changed = []
    for name, items in lists.items():
        pattern = re.compile(rf"^{name} = \(.*?\)(?:  # fmt: skip)?$", re.M | re.S)
        found = pattern.search(text)
        if found is None:
            raise SystemExit(f"{LEXER.relative_to(ROOT)}: no `{name} = (...)` to update")
        new = python_tuple(name, items)
        if found.group(0) != new:
            changed.append(name)
            text = text[: found.start()] + new + text[found.end() :]
    return text, changed


def _rules(node: object) -> list[dict]:
    """Every rule (a dict with a `name`) anywhere in the grammar."""
    if isinstance(node, list):
        return [rule for item in node for rule in _rules(item)]
    if not isinstance(node, dict):
        return []
    found = [node] if "name" in node and "match" in node else []
    return found + [rule for value in node.values() for rule in _rules(value)]


def synced_textmate(text: str, lists: dict[str, tuple[str, ...]]) -> tuple[str, list[str]]:
    """The TextMate grammar's text with its word alternations regenerated, and the names of
    the lists that changed."""
    grammar = json.loads(text)
    rules = _rules(grammar)
    changed = []
    for name, scope in SCOPES.items():
        matching = [rule for rule in rules if rule["name"] == scope]
        if len(matching) != 1:
            raise SystemExit(f"{TEXTMATE.relative_to(ROOT)}: {len(matching)} rules named {scope}")
        rule = matching[0]
        found = _ALTERNATION.match(rule["match"])
        if found is None:
            raise SystemExit(f"{TEXTMATE.relative_to(ROOT)}: {scope} has no word alternation")
        words = alternation(lists[name])
        if found.group(2) != words:
            changed.append(name)
            rule["match"] = found.group(1) + words + found.group(3)
    return json.dumps(grammar, indent=2, ensure_ascii=False) + "\n", changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a word list is stale; write nothing"
    )
    args = parser.parse_args(argv)
    lists = word_lists()
    stale = []
    for path, sync in ((LEXER, synced_lexer), (TEXTMATE, synced_textmate)):
        old = path.read_text(encoding="utf-8")
        new, changed = sync(old, lists)
        where = path.relative_to(ROOT)
        if new != old:
            stale.append(f"{where}: {', '.join(changed) or 'layout'}")
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for line in stale:
        if args.check:
            print(f"{line} stale: run python scripts/sync_words.py")
        else:
            print(f"{line} updated")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the specgen of this checkout
    sys.exit(main())
