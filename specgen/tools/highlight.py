"""Syntax highlighting of `.conv` specs for Pygments (docs, `pygmentize`, Sphinx, MkDocs).

Pygments finds the lexer through the `pygments.lexers` entry point that pyproject.toml
declares, so `pygmentize -l conv net.conv` and a Markdown fence written ```` ```conv ````
work once specgen is installed.  Pygments is not a dependency of specgen: only this module
imports it, and nothing on the compile path imports this module.

The word lists are written out here rather than imported from the compiler: Pygments loads
every plugin lexer when it looks up a name it does not know, and that must stay cheap (no
lark, no grammar).  `python scripts/sync_words.py` regenerates them, and the same words in
editors/conv.tmLanguage.json, from the compiler's own tables; tests/test_highlight.py runs it
with `--check` and checks both highlighters against grammar/specgen.lark, so the two
highlighters and the language cannot drift apart.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["ConvLexer"]

# the words of the grammar (grammar/specgen.lark), by role
DECLARATIONS = ("network", "input", "block", "let", "layers")
STATEMENTS = ("if", "elif", "else", "for", "assert", "as", "x")
# `in` is a keyword after `for NAME, ...` and elsewhere the input channels, a value like `self`
INPUT_CHANNELS = "in"
WORD_OPERATORS = ("and", "or", "not")

# the named constants of expressions (specgen.language.expr.CONSTANTS)
CONSTANTS = ("true", "false")

# the bodies a statement can open (specgen.language.words.COMPOSITES)
COMPOSITES = ("residual", "add", "concat", "split", "rep", "branch", "shortcut")

# the layers (specgen.layers.OPS and its ALIASES)
LAYERS = (
    "adaptiveavgpool", "avgpool", "bn", "conv", "dropout", "droppath", "dwconv", "fc", "flatten",
    "gap", "gdc", "gelu", "gelu_tanh", "gmp", "grn", "hardsigmoid", "hsigmoid", "hswish",
    "identity", "igc", "layernorm", "layerscale", "leakyrelu", "linear", "maxpool", "prelu",
    "pwconv", "relu", "relu6", "se", "sepconv", "shuffle", "sigmoid", "silu", "slice", "softmax",
    "tanh",
)  # fmt: skip

# the functions of expressions (specgen.language.expr.FUNCTIONS) and of search domains
# (specgen.language.domains.DOMAIN_FUNCTIONS)
FUNCTIONS = (
    "abs", "all", "any", "ceil", "count", "enumerate", "exp", "float", "floor", "int", "len",
    "log", "make_divisible", "max", "min", "range", "reversed", "round", "sorted", "sqrt", "sum",
    "unique", "zip", "choice", "uniform", "loguniform",
)  # fmt: skip

# what a `constraint` or `objective` line may read besides parameters and lets
# (specgen.language.domains.COST_TERMS)
COST_TERMS = (
    "params", "macs", "flops", "activations", "peak_activations", "layers", "traffic", "latency",
)  # fmt: skip

_NAME = r"[A-Za-z_][A-Za-z_0-9]*"
_END = r"(?![A-Za-z_0-9])"  # ASCII, as the grammar's NAME (Python's `\b` is Unicode-aware)


class ConvLexer(RegexLexer):
    """Pygments lexer for specgen's `.conv` network specifications."""

    name = "specgen"
    aliases = ["conv", "specgen"]
    filenames = ["*.conv"]
    mimetypes = ["text/x-specgen"]

    tokens = {
        "root": [
            # `constraint` starts a top-level statement and is a keyword only there
            (r"^(constraint)" + _END, Keyword, "constraint"),
            # `objective maximize params`: likewise, then a direction
            (
                r"^(objective)([\t ]+)(minimize|maximize)" + _END,
                bygroups(Keyword, Whitespace, Keyword),
                "constraint",
            ),
            (
                r"(network)([\t ]+)(" + _NAME + ")",
                bygroups(Keyword.Declaration, Whitespace, Name.Class),
            ),
            (
                r"(block)([\t ]+)(" + _NAME + ")",
                bygroups(Keyword.Declaration, Whitespace, Name.Function),
            ),
            (
                r"(let)([\t ]+)(" + _NAME + ")",
                bygroups(Keyword.Declaration, Whitespace, Name.Variable),
            ),
            (r"(as)([\t ]+)(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Label)),
            (r"import" + _END, Keyword.Namespace),
            include("expression"),
        ],
        # `constraint macs <= 150e6, "why"` (or an objective): the cost terms are names only
        # on this line
        "constraint": [
            (r"\r?\n", Whitespace, "#pop"),
            (words(COST_TERMS, suffix=_END), Name.Builtin.Pseudo),
            include("expression"),
        ],
        # `for t, c in cfg` (a statement or a comprehension): the loop variables, then `in`
        "for": [
            (r"[\t \f]+", Whitespace),
            (r"\\[\t \f]*\r?\n", Whitespace),
            (r"in" + _END, Keyword, "#pop"),
            (_NAME, Name.Variable),
            (r",", Punctuation),
            default("#pop"),
        ],
        "expression": [
            (r"[\t \f]+", Whitespace),
            (r"\\[\t \f]*\r?\n", Whitespace),  # line continuation
            (r"\r?\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"[^"\\\n]*"', String.Double),
            (r"for" + _END, Keyword, "for"),
            # `padding=same`: a word, matched where it is written, not a variable
            (
                r"(padding)([\t ]*)(=)([\t ]*)(same)" + _END,
                bygroups(Name.Attribute, Whitespace, Operator, Whitespace, Keyword.Constant),
            ),
            # keyword arguments, parameter defaults, bare `NAME=` of any kind (not `==`)
            (r"(" + _NAME + r")([\t ]*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            # a searched parameter's domain: `g: choice(1, 2, 4) = 2` (a body's `:` ends its line)
            (
                r"(" + _NAME + r")([\t ]*)(:)(?=[\t ]*[^\s#])",
                bygroups(Name.Attribute, Whitespace, Punctuation),
            ),
            (words(DECLARATIONS, suffix=_END), Keyword.Declaration),
            (words(STATEMENTS, suffix=_END), Keyword),
            (INPUT_CHANNELS + _END, Name.Builtin.Pseudo),
            (words(WORD_OPERATORS, suffix=_END), Operator.Word),
            (words(CONSTANTS, suffix=_END), Keyword.Constant),
            (words(COMPOSITES, suffix=_END), Keyword.Reserved),
            (words(LAYERS, suffix=_END), Keyword.Type),
            (words(FUNCTIONS, suffix=_END + r"(?=\s*\()"), Name.Builtin),
            (_NAME, Name),
            # size literals (`3x3`, `3x224x224`) before the numbers they start with
            (r"[0-9]+(?:x[0-9]+)+" + _END, Number),
            (
                r"(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+",
                Number.Float,
            ),
            (r"[0-9]+", Number.Integer),
            (r"\.\.\.", Punctuation),  # the docs' "and so on" in a shortened spec
            (r"\*\*|//|==|!=|<=|>=|[-+*/%<>=]", Operator),
            (r"[()\[\]{},:]", Punctuation),
        ],
    }

    @staticmethod
    def analyse_text(text: str) -> float:
        """A spec starts with `network NAME` and has a `layers:` body."""
        if re.search(r"^network\s+[A-Za-z_]", text, re.M) and re.search(
            r"^layers\s*:", text, re.M
        ):
            return 0.8
        return 0.0
