"""Syntax highlighting of `.conv`: the Pygments lexer (specgen/tools/highlight.py, found through
the `pygments.lexers` entry point) and the TextMate grammar of the editors (editors/).

Both are checked on every example and every ```conv fence of the docs, against the words of
grammar/specgen.lark and the compiler's own tables (so that a new layer, function or keyword
cannot be forgotten by either), and against each other.  The TextMate grammar is run by a
small tokenizer written here with Python's `re`, which accepts the subset of Oniguruma the
grammar keeps to.
"""

from __future__ import annotations

import ast
import json
import plistlib
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")

from pygments import highlight  # noqa: E402
from pygments.formatters import HtmlFormatter  # noqa: E402
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import (  # noqa: E402
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from specgen import layers  # noqa: E402
from specgen.language import (  # noqa: E402
    domains,
    expr,
    words,  # noqa: E402
)
from specgen.tools import highlight as H  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.conv"))
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TM_PATH = ROOT / "editors" / "conv.tmLanguage.json"
VSCODE = ROOT / "editors" / "vscode"

_FENCE = re.compile(r"^([ \t]*)```conv[ \t]*\n(.*?)^\1```[ \t]*$", re.M | re.S)


def doc_fences() -> list[tuple[str, str]]:
    """(`file:line`, text) of every ```conv fence in README.md and docs/*.md, dedented as
    Markdown does for a fence inside a list item."""
    fences = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            indent = len(m.group(1))
            body = "".join(line[indent:] for line in m.group(2).splitlines(keepends=True))
            line = text.count("\n", 0, m.start()) + 1
            fences.append((f"{path.relative_to(ROOT)}:{line}", body))
    return fences


FENCES = doc_fences()


def grammar_words() -> set[str]:
    """The keywords of grammar/specgen.lark: its quoted alphabetic literals, comments left out."""
    text = (ROOT / "grammar" / "specgen.lark").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\s*//.*$", "", text)
    text = re.sub(r"(?m)\s//\s.*$", "", text)
    return set(re.findall(r'"([A-Za-z_]+)"', text))


GRAMMAR_WORDS = grammar_words()


@cache
def lexer():
    """The lexer as any Pygments user gets it: by name, through the entry point."""
    return get_lexer_by_name("conv")


def tokens(text: str) -> list[tuple[int, object, str]]:
    return list(lexer().get_tokens_unprocessed(text))


def token_of(text: str, word: str, nth: int = 0):
    """The Pygments token type of the `nth` whole token equal to `word` in `text`."""
    found = [t for _, t, v in tokens(text) if v == word]
    assert len(found) > nth, f"no token {word!r} in {tokens(text)}"
    return found[nth]


# ---- the TextMate grammar, run by a small tokenizer ------------------------------------------


@cache
def tm_grammar() -> dict:
    return json.loads(TM_PATH.read_text(encoding="utf-8"))


def _rules(patterns: list[dict], repository: dict) -> list[dict]:
    """`patterns` with every `include` replaced by the rules it names, in order."""
    out = []
    for rule in patterns:
        if "include" in rule:
            named = repository[rule["include"].removeprefix("#")]
            if "match" in named or "begin" in named:
                out.append(named)
            else:
                out += _rules(named["patterns"], repository)
        else:
            out.append(rule)
    return out


def _marks(m: re.Match, rule: dict, captures_key: str, spans: list) -> None:
    if "name" in rule:
        spans.append((m.start(), m.end(), rule["name"]))
    for group, capture in rule.get(captures_key, rule.get("captures", {})).items():
        if m.group(int(group)) is not None and "name" in capture:
            spans.append((m.start(int(group)), m.end(int(group)), capture["name"]))


def tm_tokenize(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """TextMate's rule, line by line: of all the patterns, the one whose match starts first wins
    (the first listed on a tie; a `begin` rule's `end` before its own patterns).  Returns the
    scoped spans (offsets into `text`) and the spans no pattern matched."""
    grammar = tm_grammar()
    repository = grammar["repository"]
    top = _rules(grammar["patterns"], repository)
    spans: list[tuple[int, int, str]] = []
    gaps: list[tuple[int, int]] = []
    stack: list[dict] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        pos = 0
        while True:
            rules = _rules(stack[-1]["patterns"], repository) if stack else top
            best = None
            if stack:
                m = re.compile(stack[-1]["end"]).search(body, pos)
                if m:
                    best = (m.start(), -1, m, None)
            for i, rule in enumerate(rules):
                m = re.compile(rule.get("match") or rule["begin"]).search(body, pos)
                if m and (best is None or m.start() < best[0]):
                    best = (m.start(), i, m, rule)
            if best is None:
                gaps.append((offset + pos, offset + len(body)))
                break
            start, _, m, rule = best
            gaps.append((offset + pos, offset + start))
            found: list = []
            if rule is None:
                _marks(m, stack.pop(), "endCaptures", found)
            elif "begin" in rule:
                _marks(m, rule, "beginCaptures", found)
                stack.append(rule)
            else:
                _marks(m, rule, "captures", found)
            spans += [(offset + a, offset + b, s) for a, b, s in found]
            if m.end() == pos and rule is not None and "begin" not in rule:
                raise AssertionError(f"empty match of {rule} at {body!r}:{pos}")
            pos = m.end()
            if pos >= len(body) and not stack:
                break
            if pos >= len(body) and m.end() == m.start() and rule is None:
                continue  # `$` closed a begin/end rule: its parent may still match nothing
        offset += len(line)
    return spans, [(a, b) for a, b in gaps if a < b]


def tm_scopes_at(spans: list[tuple[int, int, str]], offset: int) -> list[str]:
    """The scopes at `offset`, innermost first (a capture is narrower than its whole match)."""
    return [s for _, s in sorted((b - a, s) for a, b, s in spans if a <= offset < b)]


def tm_scope_at(spans: list[tuple[int, int, str]], offset: int) -> str | None:
    """The innermost scope at `offset`."""
    return next(iter(tm_scopes_at(spans, offset)), None)


def tm_scope_of(text: str, word: str, nth: int = 0) -> str | None:
    spans, _ = tm_tokenize(text)
    starts = [
        m.start() for m in re.finditer(r"(?<![A-Za-z_0-9])" + word + r"(?![A-Za-z_0-9])", text)
    ]
    return tm_scope_at(spans, starts[nth])


# ---- the lexer through Pygments' public lookup ------------------------------------------------


def test_pygments_finds_the_lexer_through_the_entry_point():
    for found in (
        get_lexer_by_name("conv"),
        get_lexer_by_name("specgen"),
        get_lexer_for_filename("examples/resnet.conv"),
    ):
        assert type(found).__module__ == "specgen.tools.highlight", (
            "Pygments did not find specgen's lexer: is specgen installed with its entry point "
            "(pip install -e .)?"
        )
        assert type(found).__name__ == "ConvLexer"


def test_the_lexer_guesses_a_spec():
    text = (ROOT / "examples" / "shufflenet_v1.conv").read_text(encoding="utf-8")
    assert H.ConvLexer.analyse_text(text) > 0.5
    assert H.ConvLexer.analyse_text("def f():\n    return 1\n") == 0.0


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_lexes_without_error_tokens(path):
    text = path.read_text(encoding="utf-8")
    toks = tokens(text)
    errors = [(text.count("\n", 0, i) + 1, v) for i, t, v in toks if t in Error]
    assert not errors, f"Error tokens at (line, text): {errors}"
    assert "".join(v for _, _, v in toks) == text
    kinds = {t for _, t, _ in toks}
    assert Keyword.Declaration in kinds and Keyword.Type in kinds


def test_the_docs_have_conv_fences():
    # the fence finder itself must work, or the next test checks nothing
    assert len(FENCES) >= 20
    assert any("fuzzing.md" in where for where, _ in FENCES)  # fences indented in a list


@pytest.mark.parametrize("where, text", FENCES, ids=[where for where, _ in FENCES])
def test_every_conv_fence_in_the_docs_lexes_without_error_tokens(where, text):
    errors = [v for _, t, v in tokens(text) if t in Error]
    assert not errors, f"{where}: Error tokens {errors}"


def test_the_lexer_reports_what_is_not_the_language():
    # the checks above could not fail if nothing were ever an Error
    assert token_of("let a = $b\n", "$") in Error
    assert token_of("let a = 'b'\n", "'") in Error


SAMPLE = """\
# a comment
network net(g: choice(1, 2, 4) = 2, width=64, drop=0.1)
input 3x32x32
import "lib/blocks.conv"
let half = width // 2 if not false else 1e-3
constraint macs <= 150e6, "the budget"
assert g > 0 and g <= 8, "g"

block unit(g, k=3x3):
    residual:
        conv k out=in/4 group=g bn(1e-3) relu6
        maxpool 3x3 stride=2 padding=same ceil_mode
        shortcut:
            if true or g == 1:
                pwconv in
    relu

layers:
    for i, c in enumerate([16, 32]):
        unit(g) x 2 as stage
    let ws = [int(w * 2) for w in [1, 2] if w != 0]
    conv 1x1 \\
        out=c
    se max(1, in // 4) act=silu gate=hardsigmoid
    gap
    fc 10 softmax
"""


@pytest.mark.parametrize(
    "word, nth, expected",
    [
        ("# a comment", 0, Comment.Single),
        ("network", 0, Keyword.Declaration),
        ("net", 0, Name.Class),
        ("g", 0, Name.Attribute),  # a searched parameter, `g: choice(...)`
        ("choice", 0, Name.Builtin),
        ("width", 0, Name.Attribute),
        ("0.1", 0, Number.Float),
        ("input", 0, Keyword.Declaration),
        ("3x32x32", 0, Number),
        ("import", 0, Keyword.Namespace),
        ('"lib/blocks.conv"', 0, String.Double),
        ("let", 0, Keyword.Declaration),
        ("half", 0, Name.Variable),
        ("//", 0, Operator),
        ("if", 0, Keyword),
        ("not", 0, Operator.Word),
        ("false", 0, Keyword.Constant),
        ("1e-3", 0, Number.Float),
        ("constraint", 0, Keyword),
        ("macs", 0, Name.Builtin.Pseudo),
        ("150e6", 0, Number.Float),
        ("<=", 0, Operator),
        ("and", 0, Operator.Word),
        ("block", 0, Keyword.Declaration),
        ("unit", 0, Name.Function),
        ("3x3", 0, Number),
        ("residual", 0, Keyword.Reserved),
        ("conv", 0, Keyword.Type),
        ("out", 0, Name.Attribute),
        ("in", 0, Name.Builtin.Pseudo),  # the input channels, a value
        ("group", 0, Name.Attribute),
        ("g", 2, Name),
        ("bn", 0, Keyword.Type),
        ("relu6", 0, Keyword.Type),
        ("same", 0, Keyword.Constant),
        ("ceil_mode", 0, Name),
        ("shortcut", 0, Keyword.Reserved),
        ("==", 0, Operator),
        ("pwconv", 0, Keyword.Type),
        ("for", 0, Keyword),
        ("i", 0, Name.Variable),
        ("c", 0, Name.Variable),
        ("in", 2, Keyword),  # `for i, c in ...`
        ("enumerate", 0, Name.Builtin),
        ("16", 0, Number.Integer),
        ("x", 0, Keyword),
        ("as", 0, Keyword),
        ("stage", 0, Name.Label),
        ("int", 0, Name.Builtin),
        ("w", 0, Name),
        ("w", 1, Name.Variable),  # the comprehension's variable
        ("in", 3, Keyword),
        ("!=", 0, Operator),
        ("\\\n", 0, Whitespace),
        ("se", 0, Keyword.Type),
        ("max", 0, Name.Builtin),
        ("act", 0, Name.Attribute),
        ("silu", 0, Keyword.Type),
        ("hardsigmoid", 0, Keyword.Type),
        ("gap", 0, Keyword.Type),
        ("softmax", 0, Keyword.Type),
        (":", 0, Punctuation),
    ],
)
def test_token_types(word, nth, expected):
    assert token_of(SAMPLE, word, nth) == expected


def test_a_word_inside_a_name_is_a_name():
    # `conv1_stem`, `xs`, `input_width`, `in2`: no keyword is found inside a longer name
    text = "layers:\n    conv 1x1 out=in2 as conv1_stem\n    xs(input_width, layers_n)\n"
    toks = {v: t for _, t, v in tokens(text)}
    assert toks["conv1_stem"] == Name.Label
    assert toks["in2"] == Name
    assert toks["xs"] == Name
    assert toks["input_width"] == Name
    assert toks["layers_n"] == Name


def test_a_function_name_is_a_builtin_only_when_called():
    # `count` and `range` may name a value; only a call is the function
    assert token_of("let a = count(w) + count\n", "count", 0) == Name.Builtin
    assert token_of("let a = count(w) + count\n", "count", 1) == Name


def test_constraint_is_a_keyword_only_at_the_top_level():
    assert token_of("constraint layers <= 9\n", "constraint") == Keyword
    assert token_of("constraint layers <= 9\n", "layers") == Name.Builtin.Pseudo
    assert token_of("let a = constraint + 1\nlayers:\n", "constraint") == Name
    assert token_of("let a = constraint + 1\nlayers:\n", "layers") == Keyword.Declaration


def test_html_output_marks_keywords_layers_and_sizes():
    text = (ROOT / "examples" / "shufflenet_v1.conv").read_text(encoding="utf-8")
    html = highlight(text, lexer(), HtmlFormatter())
    for span in (
        '<span class="kd">network</span>',
        '<span class="nc">shufflenet_v1</span>',
        '<span class="kd">block</span>',
        '<span class="kr">residual</span>',
        '<span class="kt">conv</span>',
        '<span class="kt">shuffle</span>',
        '<span class="na">group</span>',
        '<span class="m">3x224x224</span>',
        '<span class="bp">in</span>',
        '<span class="k">x</span>',
        '<span class="c1"># ShuffleNet V1 1x (Zhang et al. 2017, Table 1).</span>',
    ):
        assert span in html, span
    assert 'class="err"' not in html


# ---- the word lists cannot drift from the language --------------------------------------------

# one line where each grammar keyword stands as a keyword
KEYWORD_CONTEXTS = {
    "network": "network n(a=1)",
    "input": "input 3x8x8",
    "constraint": "constraint params <= 10",
    "objective": "objective maximize params",
    "maximize": "objective maximize params",
    "minimize": "objective minimize macs",
    "import": 'import "a.conv"',
    "let": "let a = 1",
    "block": "block b(c):",
    "layers": "layers:",
    "if": "    if a == 1:",
    "elif": "    elif a:",
    "else": "    else:",
    "for": "    for i in r:",
    "in": "    for i in r:",
    "assert": 'assert a > 0, "a"',
    "as": "    conv 1x1 as c1",
    "x": "    conv 1x1 x 2",
    "and": "let a = b and c",
    "or": "let a = b or c",
    "not": "let a = not b",
}
KEYWORD_SCOPES = ("keyword.", "storage.type.")


def test_the_grammar_keywords_are_found():
    assert {"network", "input", "let", "block", "layers", "if", "for", "in", "x"} <= GRAMMAR_WORDS
    missing = GRAMMAR_WORDS - set(KEYWORD_CONTEXTS)
    assert not missing, f"new keywords in grammar/specgen.lark, not highlighted yet: {missing}"


@pytest.mark.parametrize("word", sorted(GRAMMAR_WORDS))
def test_every_grammar_keyword_is_a_keyword_in_both_highlighters(word):
    line = KEYWORD_CONTEXTS[word] + "\n"
    kind = token_of(line, word)
    assert kind in Keyword or kind in Operator.Word, f"Pygments: {word!r} is {kind}"
    scope = tm_scope_of(line, word)
    assert scope and scope.startswith(KEYWORD_SCOPES), f"TextMate: {word!r} is {scope}"


def test_the_word_lists_match_the_compiler():
    assert set(H.LAYERS) == set(layers.OPS) | set(layers.ALIASES)
    assert set(H.COMPOSITES) == set(words.COMPOSITES)
    assert set(H.FUNCTIONS) == set(expr.FUNCTIONS) | set(domains.DOMAIN_FUNCTIONS)
    assert set(H.COST_TERMS) == set(domains.COST_TERMS)
    assert set(H.CONSTANTS) == set(expr.CONSTANTS)
    # every reserved word of the compiler is one of the grammar's, or a constant
    assert set(words.KEYWORDS) <= GRAMMAR_WORDS | set(H.CONSTANTS)


def test_the_word_lists_are_generated_from_the_compiler():
    """scripts/sync_words.py writes both highlighters' word lists: `--check` finds none stale."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_words.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def _vocabulary() -> list[tuple[str, str, object, str]]:
    """(word, line, Pygments type, TextMate scope) for every word of the compiler's tables."""
    cases = []
    for word in sorted(set(layers.OPS) | set(layers.ALIASES)):
        cases.append((word, f"    {word} 1\n", Keyword.Type, "support.type.layer.conv"))
    for word in sorted(words.COMPOSITES):
        cases.append((word, f"    {word}:\n", Keyword.Reserved, "keyword.control.composite.conv"))
    for word in sorted(set(expr.FUNCTIONS) | set(domains.DOMAIN_FUNCTIONS)):
        cases.append((word, f"let a = {word}(1)\n", Name.Builtin, "support.function.builtin.conv"))
    for word in sorted(domains.COST_TERMS):
        cases.append((word, f"constraint {word} <= 1\n", Name.Builtin.Pseudo, "support.variable"))
    for word in sorted(expr.CONSTANTS):
        cases.append((word, f"let a = {word}\n", Keyword.Constant, "constant.language"))
    return cases


@pytest.mark.parametrize("word, line, kind, scope", _vocabulary(), ids=lambda v: str(v)[:20])
def test_every_layer_composite_and_function_in_both_highlighters(word, line, kind, scope):
    assert token_of(line, word) == kind
    assert (tm_scope_of(line, word) or "").startswith(scope)


# ---- the TextMate grammar and the VS Code extension ------------------------------------------


def _regexes(node, where="") -> list[tuple[str, str]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                found.append((f"{where}/{key}", value))
            else:
                found += _regexes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _regexes(value, f"{where}/{i}")
    return found


def test_the_textmate_grammar_is_valid():
    grammar = tm_grammar()
    assert grammar["scopeName"] == "source.conv"
    assert grammar["fileTypes"] == ["conv"]
    regexes = _regexes(grammar)
    assert len(regexes) > 20
    for where, rx in regexes:
        re.compile(rx)  # Python's re accepts the Oniguruma subset the grammar keeps to
        # constructs Python reads differently from Oniguruma, or not at all
        assert not re.search(r"\\[hHAzZGkgp]|\(\?[<']?[A-Za-z]|\(\?>|[*+?]\+", rx), (where, rx)
    scopes = re.findall(r'"name": "([^"]+)"', json.dumps(grammar["repository"]))
    assert len(scopes) > 20 and all(s.endswith(".conv") for s in scopes), scopes
    includes = re.findall(r'"include": "#([^"]+)"', TM_PATH.read_text(encoding="utf-8"))
    assert includes and set(includes) <= set(grammar["repository"])
    plistlib.dumps(grammar)  # Sublime Text and TextMate read it as a property list


def test_the_textmate_tokenizer_can_fail():
    text = "let a = $b\n"
    spans, gaps = tm_tokenize(text)
    assert [text[a:b].strip() for a, b in gaps if text[a:b].strip()] == ["$"]
    assert tm_scope_at(spans, 0) == "storage.type.let.conv"


def _texts() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in EXAMPLE_FILES] + FENCES


# how a Pygments token type reads in TextMate scopes (None: a plain name, no scope)
_SCOPES = [
    (Keyword.Declaration, ("storage.type.", "keyword.other.")),
    (Keyword.Namespace, ("keyword.control.import.",)),
    (Keyword.Constant, ("constant.language.",)),
    (Keyword.Reserved, ("keyword.control.composite.",)),
    (Keyword.Type, ("support.type.layer.",)),
    (Keyword, ("keyword.control.", "keyword.other.", "keyword.operator.repeat.")),
    (Name.Builtin.Pseudo, ("variable.language.in.", "support.variable.cost.")),
    (Name.Builtin, ("support.function.builtin.",)),
    (Name.Attribute, ("variable.parameter.",)),
    (Name.Class, ("entity.name.type.",)),
    (Name.Function, ("entity.name.function.",)),
    (Name.Variable, ("variable.other.definition.", "variable.other.loop.")),
    (Name.Label, ("entity.name.label.",)),
    (Number.Float, ("constant.numeric.float.",)),
    (Number.Integer, ("constant.numeric.integer.",)),
    (Number, ("constant.numeric.size.",)),
    (String, ("string.quoted.double.",)),
    (Comment, ("comment.line.",)),
    (Operator.Word, ("keyword.operator.logical.",)),
    (Operator, ("keyword.operator.",)),
    (Punctuation, ("punctuation.",)),
]


def _tm_expected(kind) -> tuple[str, ...] | None:
    if kind is Name:
        return None
    for pygments_kind, scopes in _SCOPES:
        if kind in pygments_kind:
            return scopes
    raise AssertionError(f"no TextMate scope for {kind}")


@pytest.mark.parametrize("where, text", _texts(), ids=[w for w, _ in _texts()])
def test_textmate_agrees_with_pygments(where, text):
    spans, gaps = tm_tokenize(text)
    unmatched = [text[a:b] for a, b in gaps if text[a:b].strip()]
    assert not unmatched, f"{where}: no TextMate pattern matches {unmatched}"
    differ = []
    for i, kind, value in tokens(text):
        if kind in Whitespace or not value.strip():
            continue
        if kind in Punctuation and value == ",":
            continue  # the commas between loop variables are part of the loop's capture
        scopes = tm_scopes_at(spans, i)
        expected = _tm_expected(kind)
        if expected is None:
            ok = not scopes
        else:
            ok = any(scope.startswith(expected) for scope in scopes)
        if not ok:
            differ.append((text.count("\n", 0, i) + 1, value, str(kind), scopes))
    assert not differ, f"{where}: (line, text, Pygments, TextMate) {differ[:10]}"


def test_the_vscode_extension_manifest():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".conv"]
    assert grammar["language"] == language["id"]
    assert grammar["scopeName"] == tm_grammar()["scopeName"]
    # the grammar is copied into the extension at install (editors/README.md): one source
    assert Path(grammar["path"]).name == TM_PATH.name
    assert (VSCODE / language["configuration"]).is_file()
    for key in ("name", "publisher", "version", "engines"):
        assert manifest[key]


def test_the_vscode_language_configuration():
    config = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["(", ")"] in config["brackets"] and ["[", "]"] in config["brackets"]
    assert config["folding"]["offSide"] is True  # folding follows the indentation
    increase = re.compile(config["indentationRules"]["increaseIndentPattern"])
    decrease = re.compile(config["indentationRules"]["decreaseIndentPattern"])
    for line in ("block unit(g):", "    residual:", "layers:  # body", "    if a == {1: 2}[g]:"):
        assert increase.search(line), line
    for line in (
        "    conv 3x3 out=64",
        "let t = {1: 2}",
        "conv 1x1  # note: here",
        "g: choice(1) = 1,",
    ):
        assert not increase.search(line), line
    assert decrease.search("    else:") and decrease.search("    elif g > 1:")
    assert not decrease.search("    elsewhere(1)")
    re.compile(config["wordPattern"])


def test_the_editors_readme_tells_how_to_install():
    text = (ROOT / "editors" / "README.md").read_text(encoding="utf-8")
    for editor in ("VS Code", "Sublime Text", "pygmentize"):
        assert editor in text
    assert TM_PATH.name in text


# ---- Pygments stays out of the compiler --------------------------------------------------------


def test_only_the_highlight_module_imports_pygments():
    for path in sorted((ROOT / "specgen").rglob("*.py")):
        if path.name == "highlight.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            else:
                continue
            bad = [n for n in names if n.split(".")[0] == "pygments" or "highlight" in n]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_compiling_does_not_load_pygments():
    code = (
        "import sys, specgen, specgen.tools.cli\n"
        "specgen.compile(sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pygments', 'specgen.tools.highlight'))))\n"
    )
    spec = str(ROOT / "examples" / "shufflenet_v1.conv")
    out = subprocess.run(
        [sys.executable, "-c", code, spec], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_docs_site_colours_code_with_pygments():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = ROOT / config["docs_dir"]
    pages = [next(iter(entry.values())) for entry in config["nav"]]
    assert pages and all((docs / page).is_file() for page in pages), pages
    extensions = {
        next(iter(e)) if isinstance(e, dict) else e: e for e in config["markdown_extensions"]
    }
    assert extensions["pymdownx.highlight"]["pymdownx.highlight"]["use_pygments"] is True
    assert "pymdownx.superfences" in extensions  # fences inside list items too
    assert config["theme"]["name"] == "material"  # styles Pygments' classes, no highlight.js
