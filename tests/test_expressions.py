"""Expressions for design rules (booleans, comparisons, conditionals, comprehensions, float
math, list functions), checked against Python itself: specs are transcribed from Python, so
every expression that Python can also read must give Python's value and type."""

from __future__ import annotations

import math

import pytest

import specgen
from specgen import limits
from specgen.language.parse import parse_value


def value(text: str):
    return parse_value(text, "v")


def python(text: str):
    """What Python gives for the same text (`true`/`false` spelled Python's way; lists are
    tuples in specgen)."""

    def unique(xs):
        return list(dict.fromkeys(xs))

    def count(xs, *v):
        return xs.count(*v) if v else [xs.count(u) for u in unique(xs)]

    names = {"true": True, "false": False, "unique": unique, "count": count, "log": math.log}
    names |= {"sqrt": math.sqrt, "exp": math.exp, "floor": math.floor, "ceil": math.ceil}
    got = eval(text, {"__builtins__": __builtins__}, names)  # noqa: S307 - test-only literals

    def tupled(v):
        if isinstance(v, list | tuple | range | zip | enumerate | type(reversed([]))):
            return tuple(tupled(i) for i in v)
        return v

    return tupled(got)


SAME_AS_PYTHON = [
    "1 < 2", "2 < 1", "1 <= 1 < 2", "3 > 2 > 2", "1 == 1.0", "true == true", "[1, 2] == [1, 2]",
    "[1, 2] != [2, 1]", "[1, 2] < [1, 3]", "0 < 5 != 5", "1 >= 1",
    "true and false", "true or false", "0 and 1", "2 and 3", "0 or 4", "[] or [1]", "not 0",
    "not [1]", "not true", "1 < 2 and 3 < 4", "not 1 == 2", "1 if true else 2",
    "1 if 0 else 2 if 1 else 3", "(1 if false else 2) * 3", "1 + 2 if 1 > 2 else 3 + 4",
    "[i * 2 for i in range(5)]", "[i for i in range(10) if i % 3 == 0 if i > 0]",
    "[i * j for i in range(3) for j in range(i)]", "[[j for j in range(i)] for i in range(4)]",
    "[a + b for a, b in zip([1, 2, 3], [10, 20])]", "[i * w for i, w in enumerate([5, 6], 1)]",
    "[t * c for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2]]]", "[x for x in [3, 1] if x]",
    "range(4)", "range(2, 8, 3)", "range(5, 0, -2)", "len(range(7))", "sum(range(5))",
    "zip([1, 2], [3, 4])", "enumerate([7, 8])", "sorted([3, 1, 2])", "reversed([1, 2, 3])",
    "unique([32, 32, 64, 64, 64, 32])", "count([32, 32, 64, 64, 64])", "count([1, 2, 1], 1)",
    "round(0.5)", "round(1.5)", "round(2.5)", "round(-2.5)", "round(2.675, 2)", "round(7.25, 1)",
    "log(8, 2)", "log(1000, 10)", "log(2.718281828459045)", "sqrt(2)", "exp(1)", "2 ** 0.5",
    "2.5 ** 2", "floor(-2.5)", "ceil(2.000001)", "int(-3.9)", "float(3)", "abs(-2.5)",
    "min(range(3, 6))", "max([x * x for x in range(-3, 3)])",
    "all([1, 2])", "all([1, 0])", "all([])", "any([0, []])", "any([0, [1]])", "any([])",
    "all([len(r) == 2 for r in [[1, 2], [3, 4]]])", "any([x > 2 for x in range(4)])",
    "[1, 2, 3, 4][1:]", "[1, 2, 3, 4][:2]", "[1, 2, 3, 4][::2]", "[1, 2, 3, 4][-2:][::-1]",
    "[1, 2, 3][5:]", "[1, 2, 3][:-1]", "[1, 2, 3][1:2:1]", "[[1, 2], [3]][1:][0]",
    "[1, 2, 3, 4][3:0:-1]", "[1, 2, 3][:]", "sum([1, 2, 3][1 if true else 0:])",
    "[x * 2 for x in [5, 6, 7][1:]]",
]  # fmt: skip


@pytest.mark.parametrize("text", SAME_AS_PYTHON)
def test_same_as_python(text):
    expected = python(text)
    got = value(text)
    assert got == expected
    assert type(got) is type(expected)


def test_regnet_rule_in_the_language():
    """pycls/torchvision's RegNet width rule, written as a comprehension, against Python."""
    w0, wa, wm, depth, q = 24, 24.48, 2.54, 22, 8
    cont = [i * wa + w0 for i in range(depth)]
    ks = [round(math.log(w / w0) / math.log(wm)) for w in cont]
    widths = [int(round(w0 * wm**k / q) * q) for k in ks]
    spec = (
        f"[int(round({w0} * {wm} ** round(log(({wa} * i + {w0}) / {w0}) / log({wm})) / {q}) "
        f"* {q}) for i in range({depth})]"
    )
    assert value(spec) == tuple(widths)
    assert value(f"unique({list(widths)})") == tuple(dict.fromkeys(widths))
    assert value(f"count({list(widths)})") == tuple(widths.count(w) for w in dict.fromkeys(widths))


@pytest.mark.parametrize(
    "text, phrase, code",
    [
        ("[1] < 2", "cannot compare the list [1] with the value 2 using `<`", "expr"),
        ("[x for x, y in [1, 2]]", "cannot unpack 1 into 2 names (x, y)", "expr"),
        ("[0 for i in range(1000) for j in range(1000) if false]", "more than 100000", "limit"),
        ("range(20000)", "range() of 20000 items (limit 10000)", "limit"),
        ("range(1, 5, 0)", "step must not be zero", "expr"),
        ("range(1.5)", "must be an integer", "expr"),
        ("sqrt(-1)", "sqrt() of a negative number", "expr"),
        ("exp(100)", "too large", "limit"),
        ("log(0)", "log(0) is not defined", "expr"),
        ("log(8, 1)", "log(8, 1) is not defined", "expr"),
        ("zip()", "zip() needs at least one list", "expr"),
        ("unique(3)", "unique() takes a list, not the value 3", "expr"),
        ("[i for i in 5]", "`for` needs a list or a table, not the value 5", "expr"),
        ("round(1.5, 99)", "out of range", "expr"),
        ("nope(1)", "unknown function `nope`", "unknown-name"),
        ("[1, 2][::0]", "a slice step cannot be zero", "expr"),
        ("5[1:]", "only lists can be sliced, not 5", "expr"),
        ("{1: 2}[1:]", "only lists can be sliced", "expr"),
        ("[1, 2][0.5:]", "a slice start must be an integer", "expr"),
    ],
)
def test_expression_errors(text, phrase, code):
    with pytest.raises(specgen.SpecError) as info:
        value(text)
    first = info.value.diagnostics[0]
    assert phrase in first.message and first.code == code, first.message


def test_comprehension_variables_do_not_leak():
    with pytest.raises(specgen.SpecError, match="unknown name `i`"):
        value("[i for i in range(3)] + [i]")


def test_comprehension_budget_is_shared_by_nested_comprehensions():
    n = int(limits.MAX_STEPS**0.5) + 1
    with pytest.raises(specgen.SpecError, match="more than"):
        value(f"[len([0 for j in range({n}) if false]) for i in range({n})]")


@pytest.mark.parametrize(
    "text",
    ["1 <", "1 if 2", "1 if 2 else", "[i for i in]", "[for i in x]", "not", "1 == == 2", "a and"],
)
def test_expression_syntax_errors(text):
    with pytest.raises(specgen.SpecError) as info:
        value(text)
    assert info.value.diagnostics[0].code == "syntax"
