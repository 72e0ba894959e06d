"""A corpus of bad specs: every mistake must become a SpecError with its code, its place
(line and column of the first diagnostic), a message that names it and, where there is one,
a hint.  Also: several mistakes at once, the chain of block calls, and the rendered text."""

from __future__ import annotations

import pytest
from conftest import HEADER, compile_error

import specgen

H = HEADER  # network n / input 16x8x8 / layers:
BLOCK = "network n(g=2)\ninput 16x8x8\nblock unit(a, b=2):\n    conv 1x1 out=a*b\nlayers:\n"


def case(id, text, code, line, column, phrase, hint=None, params=None, marks=()):
    return pytest.param(text, params, code, line, column, phrase, hint, id=id, marks=marks)


def recursion(blocks: int) -> str:
    """Blocks b0 -> b1 -> ... -> b{blocks} nested as calls, each in its own block."""
    defs = "".join(f"block b{i}:\n    b{i + 1}\n" for i in range(blocks))
    return f"network n\ninput 16x8x8\n{defs}block b{blocks}:\n    relu\nlayers:\n    b0\n"


def nested_residuals(levels: int) -> str:
    body = "".join("    " * (i + 1) + "residual:\n" for i in range(levels))
    return H + body + "    " * (levels + 1) + "relu\n"


CASES = [
    # ---- syntax ---------------------------------------------------------------------------
    case("missing-colon-layers", "network n\ninput 16x8x8\nlayers\n    relu\n",
         "syntax", 3, 7, "expected `:`"),
    case("missing-colon-block", "network n\ninput 16x8x8\nblock u(g)\n    relu\nlayers:\n    u(1)\n",
         "syntax", 3, 11, "expected `:`"),
    case("dedent-to-no-block", H + "    relu\n  relu\n",
         "syntax", 5, 3, "indentation matches no enclosing block"),
    case("dedent-inside-block", H + "    residual:\n        relu\n      relu\n",
         "syntax", 6, 7, "indentation matches no enclosing block"),
    case("unexpected-token", H + "    conv 3x3 out=)\n",
         "syntax", 4, 18, "unexpected `)`"),
    case("unexpected-equals", H + "    conv 3x3 = 4\n",
         "syntax", 4, 14, "unexpected `=`"),
    case("unexpected-character", H + "    conv 3x3 out=@\n",
         "syntax", 4, 18, "unexpected character `@`"),
    case("unicode-character", H + "    conv 3x3 out=8 é\n",
         "syntax", 4, 20, "unexpected character `é`"),
    case("tab-indent", H + "\tconv 3x3\n",
         "syntax", 4, 1, "indent with spaces, not tabs"),
    case("tab-after-spaces", H + "  \tconv 3x3\n",
         "syntax", 4, 3, "indent with spaces, not tabs"),
    case("eof-without-newline", "network n\ninput 16x8x8",
         "syntax", 2, 13, "unexpected end of file"),
    case("eof-without-newline-layers", "network n\ninput 16x8x8\nlayers:",
         "syntax", 3, 8, "unexpected end of file"),
    case("over-indented-statement", H + "    relu\n      relu\n",
         "syntax", 5, 7, "unexpected indentation"),
    case("indented-layers", "network n\ninput 16x8x8\n  layers:\n    relu\n",
         "syntax", 3, 3, "unexpected indentation"),
    case("no-network-line", "input 16x8x8\nlayers:\n    relu\n",
         "syntax", 1, 1, "unexpected `input`"),
    case("network-without-name", "network\ninput 16x8x8\nlayers:\n    relu\n",
         "syntax", 1, 8, "expected a name"),
    case("no-layers", "network n\ninput 16x8x8\n",
         "syntax", 2, 13, "unexpected end of file"),
    case("empty-layers", "network n\ninput 16x8x8\nlayers:\n",
         "syntax", 3, 8, "unexpected end of file"),
    case("input-two-sizes", "network n\ninput 16x8\nlayers:\n    relu\n",
         "syntax", 2, 7, "the input shape needs three sizes: CxHxW"),
    case("composite-without-colon", H + "    concat\n",
         "syntax", 4, 5, "`concat` needs an indented body", ),
    case("layer-with-body", H + "    relu:\n        relu\n",
         "unknown-composite", 4, 5, "`relu:` is not a composite"),
    case("signed-positional", "network n(classes=10)\ninput 16x1x1\nlayers:\n    fc classes-1\n",
         "syntax", 4, 15, "unexpected `-`"),
    case("trailing-layer-after-block-call", "network n\ninput 16x8x8\nblock u:\n    relu\nlayers:\n    u relu\n",
         "syntax", 6, 7, "a block call takes no trailing layers: put `relu` on a line of its own"),
    case("positional-after-trailing", H + "    conv 3x3 bn relu 3\n",
         "syntax", 4, 22, "positional arguments must come before trailing layers"),
    # ---- channel arithmetic -----------------------------------------------------------------
    case("group-input", "network n\ninput 54x8x8\nlayers:\n    conv 1x1 out=54 group=4\n",
         "group-divisibility", 4, 21, "conv input channels (54) are not divisible by group=4",
         "groups dividing 54: 1, 2, 3, 6, 9, 18, 27, 54"),
    case("group-output", H + "    conv 1x1 out=54 group=4\n",
         "group-divisibility", 4, 14, "conv output channels (54) are not divisible by group=4",
         "groups dividing 54: 1, 2, 3, 6, 9, 18, 27, 54"),
    case("group-output-positional", H + "    pwconv 54 group=4\n",
         "group-divisibility", 4, 5, "pwconv output channels (54) are not divisible by group=4",
         "groups dividing 54: 1, 2, 3, 6, 9, 18, 27, 54"),
    case("shuffle-groups", H + "    shuffle group=5\n",
         "shuffle-divisibility", 4, 13, "shuffle group=5 does not divide the 16 channels",
         "groups dividing 16: 1, 2, 4, 8, 16"),
    case("igc-width", H + "    igc 3x3 M=2 L=4\n",
         "igc-channels", 4, 13, "igc input has 16 channels but M·L = 2·4 = 8",
         "M·L must equal 16"),
    case("residual-channels", H + "    residual:\n        conv 3x3 out=32\n",
         "residual-shape", 5, 9,
         "residual body gives 32x8x8 but the identity shortcut gives 16x8x8",
         "add a `shortcut:`"),
    case("residual-stride", H + "    residual:\n        conv 3x3 stride=2\n",
         "residual-shape", 5, 9, "residual body gives 16x4x4 but the identity shortcut gives 16x8x8"),
    case("residual-explicit-shortcut",
         H + "    residual:\n        relu\n        shortcut:\n            conv 1x1 out=8\n",
         "residual-shape", 7, 13, "residual body gives 16x8x8 but the shortcut gives 8x8x8"),
    case("residual-knock-on", "network n\ninput 48x8x8\nlayers:\n    residual:\n"
         "        conv 1x1 bn relu\n        igc 3x3 M=2 L=16\n",
         "igc-channels", 6, 17, "igc input has 48 channels but M·L = 2·16 = 32", "M·L must equal 48"),
    case("repeated-line", H + "    conv 1x1 out=30 group=4 x 3\n",
         "group-divisibility", 4, 14, "conv output channels (30) are not divisible by group=4"),
    case("add-branches", H + "    add:\n        conv 1x1 out=8\n        identity\n",
         "add-shape", 4, 5, "add branches differ: conv1 gives 8x8x8, identity1 gives 16x8x8"),
    case("concat-spatial", H + "    concat:\n        conv 3x3 stride=2\n        identity\n",
         "concat-spatial", 4, 5, "concat branches have different sizes", "same stride"),
    case("split-not-dividing", H + "    split:\n" + "        identity\n" * 3,
         "split-divisibility", 4, 5, "split into 3 branches does not divide 16 channels",
         "give explicit sizes"),
    case("split-sizes-sum", H + "    split sizes=[4, 4]:\n        identity\n        identity\n",
         "split-sizes", 4, 17, "split sizes [4, 4] do not add up to the 16 input channels"),
    case("split-sizes-count",
         H + "    split sizes=[4, 4, 8]:\n        identity\n        identity\n",
         "split-sizes", 4, 17, "split has 2 branches but 3 sizes"),
    case("split-sizes-not-a-list", H + "    split sizes=3:\n        relu\n",
         "error", 4, 17, "split sizes must be a list"),
    # ---- shapes and sizes -----------------------------------------------------------------------
    case("kernel-too-large", H + "    conv 11x11 padding=0\n",
         "kernel-too-large", 4, 5, "the 11x11 window is larger than its padded 8x8 input"),
    case("dilated-kernel-too-large", H + "    conv 3x3 dilation=5 padding=0\n",
         "kernel-too-large", 4, 5, "the 11x11 window is larger than its padded 8x8 input"),
    case("pool-too-large", "network n\ninput 8x2x2\nlayers:\n    maxpool 3x3 padding=0\n",
         "kernel-too-large", 4, 5, "the 3x3 window is larger than its padded 2x2 input"),
    case("zero-out", H + "    conv 3x3 out=0\n",
         "range", 4, 18, "conv out must be at least 1, got 0"),
    case("zero-out-computed", H + "    conv 3x3 out=in-16\n",
         "range", 4, 18, "conv out must be at least 1, got 0"),
    case("zero-stride", H + "    conv 3x3 stride=0\n",
         "range", 4, 21, "conv stride must be at least 1, got 0"),
    case("zero-input", "network n\ninput 0x8x8\nlayers:\n    relu\n",
         "non-positive", 2, 7, "input sizes must be positive, got 0x8x8"),
    case("dropout-range", H + "    dropout(1.5)\n",
         "range", 4, 13, "dropout p must be between 0 and 0.999999, got 1.5"),
    case("pool-padding", H + "    maxpool 3x3 padding=2\n",
         "range", 4, 5, "maxpool padding 2x2 is more than half its kernel"),
    case("inexact-division", H + "    conv 1x1 out=in/3\n",
         "inexact-division", 4, 18, "16 / 3 does not divide exactly", "use `//`"),
    case("float-channels", H + "    conv 1x1 out=16.5\n",
         "expr", 4, 18, "conv out must be an integer, not 16.5", "round it with int(...)"),
    case("list-channels", H + "    conv 1x1 out=[1, 2]\n",
         "expr", 4, 18, "conv out must be an integer, not the list [1, 2]"),
    case("division-by-zero", H + "    conv 1x1 out=1 // 0\n",
         "expr", 4, 18, "division by zero"),
    # ---- names -----------------------------------------------------------------------------------
    case("unknown-layer", H + "    conb 3x3\n",
         "unknown-layer", 4, 5, "unknown layer or block `conb`", "did you mean `conv`?"),
    case("unknown-trailing-layer", H + "    conv 3x3 bn rleu\n",
         "unknown-layer", 4, 17, "unknown layer `rleu` after conv", "did you mean `relu`?"),
    case("unknown-argument", H + "    conv 3x3 groups=2\n",
         "unknown-argument", 4, 14, "conv has no argument `groups`", "did you mean `group`?"),
    case("bn-argument-on-conv", H + "    conv 3x3 eps=1\n",
         "unknown-argument", 4, 14, "conv has no argument `eps`", "bn(eps, momentum)"),
    case("extra-positional", H + "    relu 3\n",
         "unknown-argument", 4, 10, "relu takes no arguments"),
    case("extra-positional-conv", H + "    conv 3x3 8\n",
         "unknown-argument", 4, 14, "conv takes no more positional arguments"),
    case("missing-layer-argument", H + "    conv\n",
         "missing-argument", 4, 5, "conv needs `kernel=`"),
    case("duplicate-layer-argument", H + "    conv 3x3 out=8 out=9\n",
         "duplicate-argument", 4, 20, "`out` is given twice"),
    case("unknown-block", BLOCK + "    unt(2)\n",
         "unknown-layer", 6, 5, "unknown layer or block `unt`", "did you mean `unit`?"),
    case("unknown-name", "network n\ninput 16x8x8\nlet channels = 8\nlayers:\n    conv 3x3 out=chanels\n",
         "unknown-name", 5, 18, "unknown name `chanels`", "did you mean `channels`?"),
    case("unknown-function", H + "    conv 3x3 out=maxx(1, 2)\n",
         "unknown-name", 4, 18, "unknown function `maxx`", "did you mean `max`?"),
    case("in-outside-body", "network n\ninput 16x8x8\nlet a = in\nlayers:\n    relu\n",
         "unknown-name", 3, 9, "`in` is defined only inside"),
    # ---- parameters -----------------------------------------------------------------------------
    case("unknown-parameter", BLOCK + "    relu\n", "unknown-parameter", 0, 0,
         "unknown parameter `h`", "parameters: g", params={"h": 3}),
    case("unknown-parameter-typo", BLOCK + "    relu\n", "unknown-parameter", 0, 0,
         "unknown parameter `gg`", "did you mean `g`?", params={"gg": 3}),
    case("parameter-float-for-int", BLOCK + "    relu\n", "parameter-type", 1, 11,
         "parameter `g` expects a value like 2, got 2.5", params={"g": 2.5}),
    case("parameter-bool-for-int", BLOCK + "    relu\n", "parameter-type", 1, 11,
         "parameter `g` expects a value like 2, got true", params={"g": True}),
    case("parameter-string", BLOCK + "    relu\n", "parameter-type", 1, 11,
         "parameter `g` got a value that is not a number, list or table", params={"g": "x"}),
    case("list-for-int-parameter", "network n(g=3)\ninput 16x8x8\nlet c = {3: 8}[g]\n"
         "layers:\n    conv 1x1 out=c\n", "parameter-type", 1, 11,
         "parameter `g` expects a value like 3, got [1, 2]", params={"g": [1, 2]}),
    case("int-for-list-parameter", "network n(w=[8, 16])\ninput 16x8x8\nlayers:\n    conv 1x1 out=w[0]\n",
         "parameter-type", 1, 11, "parameter `w` expects a value like [8, 16], got 8",
         params={"w": 8}),
    case("network-param-without-default", "network n(a)\ninput 16x8x8\nlayers:\n    relu\n",
         "missing-default", 1, 11, "network parameter `a` needs a default"),
    case("duplicate-network-param", "network n(a=1, a=2)\ninput 16x8x8\nlayers:\n    relu\n",
         "duplicate-parameter", 1, 16, "parameter `a` is declared twice"),
    # ---- block calls ------------------------------------------------------------------------------
    case("missing-block-argument", BLOCK + "    unit()\n",
         "missing-argument", 6, 5, "block unit needs `a`", "signature: unit(a, b=...)"),
    case("missing-block-argument-bare", BLOCK + "    unit x 2\n",
         "missing-argument", 6, 5, "block unit needs `a`", "signature: unit(a, b=...)"),
    case("duplicate-block-argument", BLOCK + "    unit(2, a=3)\n",
         "duplicate-argument", 6, 13, "`a` is given twice"),
    case("duplicate-block-keyword", BLOCK + "    unit(a=2, a=3)\n",
         "duplicate-argument", 6, 15, "`a` is given twice"),
    # a positional argument after a keyword set a name given before (`unit(a=2, 3)` was
    # a=3, silently) or read as the next one: refused, as Python refuses it
    case("positional-after-keyword", BLOCK + "    unit(a=2, 3)\n",
         "positional-after-keyword", 6, 15, "a positional argument follows a keyword argument",
         "give it by name, or before the keywords"),
    case("positional-after-keyword-bare", BLOCK + "    unit b=2 3\n",
         "positional-after-keyword", 6, 14, "a positional argument follows a keyword argument"),
    case("too-many-positional", BLOCK + "    unit(2, 3, 4)\n",
         "too-many-arguments", 6, 16, "block unit takes 2 arguments, got more"),
    case("unknown-block-argument", BLOCK + "    unit(2, c=4)\n",
         "unknown-argument", 6, 13, "block unit has no parameter `c`", "unit takes a, b"),
    case("block-argument-typo", BLOCK + "    unit(2, bb=4)\n",
         "unknown-argument", 6, 13, "block unit has no parameter `bb`", "did you mean `b`?"),
    case("default-before-required",
         "network n\ninput 16x8x8\nblock u(a=1, b):\n    relu\nlayers:\n    relu\n",
         "name", 3, 14, "parameter `b` without a default follows one with a default"),
    case("duplicate-block", BLOCK.replace("layers:\n", "block unit(a):\n    relu\nlayers:\n") + "    unit(2)\n",
         "duplicate-block", 5, 7, "block `unit` is defined twice"),
    case("recursive-direct", "network n\ninput 16x8x8\nblock a:\n    relu\n    a\nlayers:\n    a\n",
         "recursive-block", 3, 7, "block `a` is recursive: a → a"),
    case("recursive-mutual",
         "network n\ninput 16x8x8\nblock a:\n    b\nblock b:\n    a\nlayers:\n    a\n",
         "recursive-block", 3, 7, "block `a` is recursive: a → b → a"),
    # ---- reserved names ------------------------------------------------------------------------
    case("reserved-param-in", "network n(in=3)\ninput 16x8x8\nlayers:\n    relu\n",
         "reserved", 1, 11, "`in` is reserved and cannot name a parameter"),
    case("reserved-param-layer", "network n(conv=3)\ninput 16x8x8\nlayers:\n    relu\n",
         "reserved", 1, 11, "`conv` is reserved and cannot name a parameter"),
    case("reserved-let", "network n\ninput 16x8x8\nlet relu = 3\nlayers:\n    relu\n",
         "reserved", 3, 5, "`relu` is reserved and cannot be redefined"),
    case("reserved-let-in-body", H + "    let bn = 3\n    relu\n",
         "reserved", 4, 9, "`bn` is reserved and cannot be redefined"),
    case("reserved-block-layer", "network n\ninput 16x8x8\nblock conv:\n    relu\nlayers:\n    relu\n",
         "reserved", 3, 7, "block name `conv` is a built-in layer"),
    case("reserved-block-composite",
         "network n\ninput 16x8x8\nblock residual:\n    relu\nlayers:\n    relu\n",
         "reserved", 3, 7, "block name `residual` is reserved"),
    case("reserved-block-param", "network n\ninput 16x8x8\nblock u(x):\n    relu\nlayers:\n    u(1)\n",
         "reserved", 3, 9, "`x` is reserved and cannot name a parameter"),
    case("reserved-true", "network n(true=1)\ninput 16x8x8\nlayers:\n    relu\n",
         "reserved", 1, 11, "`true` is reserved"),
    # ---- placement -------------------------------------------------------------------------------
    case("fc-on-a-map", H + "    fc 10\n",
         "fc-spatial", 4, 5, "fc needs a 1x1 map but gets 16x8x8", "add `gap`"),
    case("branch-outside", H + "    branch:\n        relu\n",
         "misplaced", 4, 5, "`branch:` belongs directly inside add, rep, concat or split"),
    case("shortcut-outside", H + "    shortcut:\n        relu\n",
         "misplaced", 4, 5, "`shortcut:` belongs directly inside residual"),
    case("two-shortcuts",
         H + "    residual:\n        relu\n        shortcut:\n            relu\n"
         "        shortcut:\n            relu\n",
         "misplaced", 8, 9, "a residual has at most one `shortcut:`"),
    case("let-in-concat", H + "    concat:\n        let a = 1\n        relu\n",
         "misplaced", 5, 13, "`let` cannot stand directly in concat"),
    case("residual-only-shortcut", H + "    residual:\n        shortcut:\n            relu\n",
         "empty", 4, 5, "residual needs at least one statement besides its shortcut"),
    case("composite-argument", H + "    concat out=3:\n        relu\n",
         "unknown-argument", 4, 12, "unexpected argument to concat", "concat takes no arguments"),
    # ---- limits ------------------------------------------------------------------------------------
    case("repeat-too-large", H + "    relu x 10001\n",
         "limit", 4, 12, "repeat count must be between 0 and 10000, got 10001"),
    case("repeat-huge", H + "    conv 3x3 out=16 x 99999999\n",
         "limit", 4, 23, "repeat count must be between 0 and 10000, got 99999999"),
    case("layers-over-limit",
         "network n\ninput 16x8x8\nblock a:\n    relu x 1000\nblock b:\n    a x 1000\n"
         "layers:\n    b x 1000\n",
         "limit", 6, 5, "the network has more than 100000 layers"),
    case("expression-too-deep", H + "    conv 3x3 out=" + "+".join(["1"] * 100) + "\n",
         "limit", 4, 18, "expression nested more than 64 levels deep"),
    case("calls-too-deep", recursion(40),
         "limit", 66, 5, "block calls nested more than 32 deep"),
    case("composites-too-deep", nested_residuals(30),
         "limit", 9, 25, "composites nested more than 24 deep"),
    case("exponent-too-large", H + "    conv 3x3 out=2**100\n",
         "limit", 4, 18, "exponent 100 is too large (limit 64)"),
    case("power-too-large", H + "    conv 3x3 out=2**60\n",
         "limit", 4, 18, "2 ** 60 is too large (limit 2**53)"),
    case("power-tower", H + "    conv 3x3 out=2**2**2**2**2\n",
         "limit", 4, 18, "exponent 65536 is too large"),
    case("product-too-large", H + "    conv 3x3 out=9007199254740992 * 2\n",
         "limit", 4, 18, "value 18014398509481984 is too large (limit 2**53)"),
    case("float-literal-overflow", H + "    conv 3x3 out=1e400\n",
         "limit", 4, 18, "number 1e400 is too large"),
    case("float-literal-over-2**53", H + "    conv 3x3 out=1e308\n",
         "limit", 4, 18, "number 1e308 is too large (limit 2**53)"),
    case("float-product-overflow", H + "    conv 3x3 out=1e15 * 1e15\n",
         "limit", 4, 18, "value 1e+30 is too large (limit 2**53)"),
    case("int-literal-over-2**53", H + "    conv 3x3 out=12345678901234567890\n",
         "limit", 4, 18, "number 12345678901234567890 is too large (limit 2**53)"),
    case("huge-int-literal", H + "    conv 3x3 out=" + "9" * 5000 + "\n",
         "limit", 4, 18, "is too large (limit 2**53)"),
    case("dims-too-many-digits", "network n\ninput 16x123456789012345678901x8\nlayers:\n    relu\n",
         "limit", 2, 7, "is too large"),
    case("channels-over-limit", H + "    conv 3x3 out=2000000\n",
         "limit", 4, 18, "conv out must be at most 1048576, got 2000000"),
    case("channels-over-limit-concat", H + "    concat:\n" + "        conv 1x1 out=1000000\n" * 2,
         "limit", 4, 5, "2000000 channels exceed the limit of 1048576"),
    case("kernel-over-limit", H + "    conv 99999999x1 out=8\n",
         "limit", 4, 10, "conv kernel must be at most 65536, got"),
    case("stride-over-int32", H + "    maxpool 2 stride=2**31\n",
         "limit", 4, 22, "maxpool stride must be at most 65536, got 2147483648"),
    case("dilation-over-limit", H + "    dwconv 3x3 dilation=70000\n",
         "limit", 4, 25, "dwconv dilation must be at most 65536"),
    case("group-over-limit", H + "    shuffle group=2**40\n",
         "limit", 4, 19, "shuffle group must be at most 1048576"),
    case("layer-weights-over-int64", "network n\ninput 1048576x1x1\nlayers:\n"
         "    conv 65536x65536 out=1048576 padding=32768\n",
         "limit", 4, 5, "parameters, more than a tensor can hold"),
    case("network-weights-over-int64", "network n\ninput 1048576x1x1\nlayers:\n"
         + "    conv 2048x2048 out=1048576 padding=1024 bias=false\n" * 2,
         "limit", 4, 5, "parameters, more than int64 can count"),
    case("map-over-limit", "network n\ninput 16x100000x8\nlayers:\n    relu\n",
         "limit", 2, 7, "a 100000x8 map exceeds the limit of 65536"),
    case("list-too-long", "network n\ninput 16x8x8\nlet a0 = [1, 2, 3, 4, 5, 6, 7, 8]\n"
         + "".join(f"let a{i + 1} = a{i} + a{i}\n" for i in range(11)) + "layers:\n    relu\n",
         "limit", 14, 11, "list has more than 10000 items"),
    case("let-redefined-at-top", "network n(g=2)\ninput 16x8x8\nlet a = 1\nlet a = 2\nlayers:\n    relu\n",
         "redefined", 4, 5, "`a` is already defined"),
    case("let-shadows-parameter", "network n(g=2)\ninput 16x8x8\nlet g = 3\nlayers:\n    relu\n",
         "redefined", 3, 5, "`g` is already defined"),
    case("let-shadows-block-parameter",
         "network n\ninput 16x8x8\nblock b(c):\n    let c = 3\n    relu\nlayers:\n    b(1)\n",
         "redefined", 4, 9, "`c` is already defined here"),
    # ---- whole files ----------------------------------------------------------------------------
    case("empty-text", "", "empty", 0, 0, "spec is empty"),
    case("blank-text", "\n   \n\n", "empty", 0, 0, "spec is empty"),
    case("only-a-comment", "# nothing here\n", "syntax", 1, 15, "unexpected end of file"),
    case("nul-in-text", H + "    relu\x00\n", "binary", 0, 0, "binary file"),
    case("text-too-large", H + "    relu\n" + "#" * 1_000_000 + "\n",
         "limit", 0, 0, "spec is larger than 100000 characters"),
]  # fmt: skip


@pytest.mark.parametrize("text, params, code, line, column, phrase, hint", CASES)
def test_bad_spec(text, params, code, line, column, phrase, hint):
    err = compile_error(text, params)
    first = err.diagnostics[0]
    assert first.code == code, err.render()
    assert (first.span.line, first.span.column) == (line, column), err.render()
    assert (err.line, err.column) == (line, column)
    assert phrase in first.message, err.render()
    if hint is not None:
        assert first.hint is not None and hint in first.hint, err.render()
    rendered = str(err)
    assert phrase in rendered
    if line > 0:
        assert f"<spec>:{line}:{column}: error:" in rendered


# ---- once bugs, now fixed: overflow, spans, brackets, tabs, BOM ------------------------------------

BUGS = [
    case("float-power-overflow", H + "    conv 3x3 out=1e-300 ** -2\n",
         "limit", 4, 18, "too large"),
    case("float-floordiv-overflow", H + "    conv 3x3 out=1e15 // 1e-300\n",
         "limit", 4, 18, "too large"),
    case("empty-list-call", H + "    conv 3x3 out=max([])\n",
         "expr", 4, 18, "max() needs at least one value"),
    case("negative-literal-span", H + "    conv 3x3 out=-16\n",
         "range", 4, 18, "conv out must be at least 1, got -16"),
    case("negative-repeat-span", H + "    relu x -1\n",
         "limit", 4, 12, "repeat count must be between 0 and 10000, got -1"),
    case("unclosed-paren", H + "    conv 3x3 out=(1 +\n    relu\n",
         "syntax", 4, 18, "never closed"),
    case("tab-on-blank-line", H + "    relu\n\t\n    relu\n", None, 0, 0, ""),
    case("tab-before-comment", H + "    relu\n\t# a comment\n    relu\n", None, 0, 0, ""),
    case("bom-in-text", "\ufeff" + H + "    relu\n", None, 0, 0, ""),
]  # fmt: skip


@pytest.mark.parametrize("text, params, code, line, column, phrase, hint", BUGS)
def test_bad_spec_bugs(text, params, code, line, column, phrase, hint):
    if code is None:  # a spec that must compile
        net = specgen.compile(text, params=params)
        assert net.cost.layers
        return
    test_bad_spec(text, params, code, line, column, phrase, hint)


@pytest.mark.parametrize(
    "text",
    [
        "network n\ninput 16x8x8\nblock a:\n    relu\n    a\nlayers:\n    a\n",
        "network n\ninput 16x8x8\nblock a:\n    b\nblock b:\n    a\nlayers:\n    a\n",
    ],
)
def test_recursion_is_reported_once(text):
    err = compile_error(text)
    assert err.codes == ["recursive-block"]


@pytest.mark.parametrize(
    "body",
    ["    relu x 2.5\n", "    split sizes=[8, 8.5]:\n        relu\n        relu\n"],
)
def test_chain_for_errors_in_repeat_and_split_sizes(body):
    err = compile_error(
        "network n\ninput 16x8x8\nblock b:\n" + body + "layers:\n    relu\n    b\n"
    )
    assert err.line == 4
    call_line = 3 + body.count("\n") + 3  # header, the body, `layers:`, `relu`, then `b`
    assert [(f.block, f.span.line, f.span.column) for f in err.chain] == [("b", call_line, 5)]


def test_chain_for_an_error_in_a_block_default():
    text = (
        "network n\ninput 16x8x8\nblock b(k=in/3):\n    conv 3x3 out=k\nlayers:\n    relu\n    b\n"
    )
    err = compile_error(text)
    assert err.codes == ["inexact-division"]
    assert (err.line, err.column) == (3, 11)
    assert [(f.block, f.span.line, f.span.column) for f in err.chain] == [("b", 7, 5)]


def test_chain_for_a_negative_repeat_inside_a_block():
    err = compile_error("network n\ninput 16x8x8\nblock b:\n    relu x -1\nlayers:\n    b\n")
    assert err.codes == ["limit"]
    assert [(f.block, f.span.line, f.span.column) for f in err.chain] == [("b", 6, 5)]


# ---- files ---------------------------------------------------------------------------------------


def file_error(path, filename=None):
    with pytest.raises(specgen.SpecError) as info:
        specgen.compile(path, filename=filename)
    return info.value


def test_missing_file(tmp_path):
    path = tmp_path / "nope.conv"
    err = file_error(path)
    assert err.codes == ["file"]
    assert err.message == "no such file"
    assert err.filename == str(path)
    assert str(err) == f"{path}: error: no such file"
    err = file_error(str(path))  # a str path ending in .conv is a path, not text
    assert err.message == "no such file"


def test_directory(tmp_path):
    err = file_error(tmp_path)
    assert err.codes == ["file"]
    assert "is a directory" in err.message


def test_binary_file(tmp_path):
    path = tmp_path / "bin.conv"
    path.write_bytes(b"network n\ninput 16x8x8\nlayers:\n    relu\x00\x01\x02\n")
    err = file_error(path)
    assert err.codes == ["file"]
    assert "binary file" in err.message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.conv"
    data = "network n\n# café\ninput 16x8x8\nlayers:\n    relu\n".encode("latin-1")
    path.write_bytes(data)
    err = file_error(path)
    assert err.codes == ["file"]
    assert "not UTF-8" in err.message
    assert "byte 15" in err.message  # len("network n\n# caf")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.conv"
    path.write_text("")
    err = file_error(path)
    assert err.codes == ["empty"]
    assert err.filename == str(path)


def test_file_with_bom_and_errors_reports_its_name(tmp_path):
    path = tmp_path / "bad.conv"
    path.write_bytes(("\ufeff" + H + "    shuffle group=3\n").encode("utf-8"))
    err = file_error(path)
    assert err.codes == ["shuffle-divisibility"]
    assert (err.line, err.column) == (4, 13)
    assert str(err).startswith(f"{path}:4:13: error: shuffle group=3")


# ---- several mistakes, chains, rendering -------------------------------------------------------

SEVERAL = """network n
input 16x8x8
layers:
    conv 3x3 groups=2
    conb 3x3
    shuffle group=5
    fc 10
"""


def test_independent_errors_are_reported_together():
    err = compile_error(SEVERAL, filename="f.conv")
    got = [(d.code, d.span.line, d.span.column) for d in err.diagnostics]
    assert got == [
        ("unknown-argument", 4, 14),
        ("unknown-layer", 5, 5),
        ("shuffle-divisibility", 6, 13),
        ("fc-spatial", 7, 5),
    ]
    text = str(err)
    for where in ("f.conv:4:14:", "f.conv:5:5:", "f.conv:6:13:", "f.conv:7:5:"):
        assert where in text
    assert text.index("f.conv:4:14:") < text.index("f.conv:7:5:")
    assert text.count("hint:") == 4


def test_validation_errors_are_reported_together():
    text = H + "    shuffle group=5\n    conv 1x1 out=9 group=2\n    fc 10\n"
    err = compile_error(text)
    assert err.codes == ["shuffle-divisibility", "group-divisibility", "fc-spatial"]
    assert [d.span.line for d in err.diagnostics] == [4, 5, 6]


NESTED_CALLS = """network n(g=4)
input 54x8x8
block inner(k):
    conv 1x1 out=in group=k
block outer(k):
    relu
    inner(k)
layers:
    relu
    outer(g)
"""


def test_call_chain_of_an_error_in_a_nested_block():
    err = compile_error(NESTED_CALLS, filename="f.conv")
    first = err.diagnostics[0]
    assert first.code == "group-divisibility"
    assert (first.span.line, first.span.column) == (4, 21)
    chain = [(f.block, f.args, f.span.line, f.span.column) for f in first.chain]
    assert chain == [("outer", (("k", 4),), 10, 5), ("inner", (("k", 4),), 7, 5)]
    rendered = first.render(err.source)
    inner = "  in block inner(k=4), called at f.conv:7:5"
    outer = "  in block outer(k=4), called at f.conv:10:5"
    assert inner in rendered and outer in rendered
    assert (
        rendered.index(inner) < rendered.index(outer) < rendered.index("  hint: groups dividing")
    )


def test_chain_changes_with_the_parameters():
    err = compile_error(NESTED_CALLS, {"g": 5})
    assert [f.args for f in err.chain] == [(("k", 5),), (("k", 5),)]
    assert err.first.hint == "groups dividing 54: 1, 2, 3, 6, 9, 18, 27, 54"


def test_error_in_a_repeated_block_call_names_its_call_site():
    text = "network n(g=3)\ninput 16x8x8\nblock unit(g):\n    shuffle group=g\nlayers:\n    unit(2)\n    unit(g) x 2\n"
    err = compile_error(text)
    assert err.codes == ["shuffle-divisibility"]
    assert [(f.block, f.args, f.span.line) for f in err.chain] == [("unit", (("g", 3),), 7)]


def caret_column(rendered: str, source_line: str) -> tuple[int, int]:
    """(column, width) of the caret printed under `source_line` in a rendered diagnostic."""
    lines = rendered.split("\n")
    found = [k for k, line in enumerate(lines) if line.endswith("| " + source_line)]
    assert found, f"source line {source_line!r} not shown in:\n{rendered}"
    i = found[0]
    bar = lines[i].index("|")
    caret = lines[i + 1]
    assert caret.index("|") == bar
    start = caret.index("^")
    return start - bar - 1, caret.count("^")


def test_rendered_text_has_source_line_and_caret():
    err = compile_error(H + "    shuffle group=5\n", filename="net.conv")
    text = str(err)
    assert text.startswith("net.conv:4:13: error: shuffle group=5 does not divide the 16 channels")
    assert " 4 |     shuffle group=5" in text
    assert caret_column(text, "    shuffle group=5") == (13, len("group=5"))
    assert text.endswith("  hint: groups dividing 16: 1, 2, 4, 8, 16")


def test_rendered_caret_with_two_digit_line_numbers():
    text = "network n\ninput 16x8x8\nlayers:\n" + "    relu\n" * 8 + "    conv 3x3 out=in/3\n"
    err = compile_error(text)
    assert err.line == 12
    rendered = str(err)
    assert " 12 |     conv 3x3 out=in/3" in rendered
    assert caret_column(rendered, "    conv 3x3 out=in/3") == (18, len("in/3"))


def test_rendered_caret_with_tabs_inside_the_line():
    err = compile_error(H + "    conv\t3x3 out=in/3\n")
    assert (err.line, err.column) == (4, 18)
    assert caret_column(str(err), "    conv 3x3 out=in/3") == (18, 4)


def test_crlf_error_location():
    err = compile_error((H + "    relu\n    shuffle group=5\n").replace("\n", "\r\n"))
    assert (err.line, err.column) == (5, 13)
    assert caret_column(str(err).replace("\r", ""), "    shuffle group=5") == (13, 7)


def test_crlf_rendering_has_no_carriage_return():
    err = compile_error((H + "    shuffle group=5\n").replace("\n", "\r\n"))
    assert "\r" not in str(err)


def test_cr_only_rendering_shows_the_line():
    err = compile_error((H + "    shuffle group=5\n").replace("\n", "\r"))
    assert (err.line, err.column) == (4, 13)
    assert caret_column(str(err), "    shuffle group=5") == (13, 7)


def test_diagnostic_without_place_renders_without_location():
    err = compile_error(BLOCK + "    relu\n", {"h": 1}, filename="f.conv")
    assert str(err) == "f.conv: error: unknown parameter `h`\n  hint: parameters: g"


def test_spec_error_attributes():
    err = compile_error(H + "    conv 1x1 out=in/3\n", filename="x.conv")
    assert err.filename == "x.conv"
    assert err.message == err.diagnostics[0].message
    assert err.chain == ()
    assert err.codes == ["inexact-division"]
    assert isinstance(err, Exception)


def test_knock_on_errors_are_not_reported():
    """The igc mistake changes the channels; the residual mismatch it causes is not reported."""
    err = compile_error(
        "network n\ninput 48x8x8\nlayers:\n    residual:\n        conv 1x1 bn relu\n"
        "        igc 3x3 M=2 L=16\n"
    )
    assert err.codes == ["igc-channels"]


def test_repeated_line_reports_each_mistake_once():
    err = compile_error(HEADER + "    conv 1x1 out=30 group=4 x 3\n")
    assert err.codes == ["group-divisibility", "group-divisibility"]
    assert err.diagnostics[1].message == (
        "conv input channels (30) are not divisible by group=4 (and in 1 more copy)"
    )
