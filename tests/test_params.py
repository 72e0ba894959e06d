"""Parameter values given from Python or `--set`: converted once, at the boundary, to the type
of the parameter's declared default, and checked against the search domains once, given
values and defaults together."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, compile_error

import specgen
from specgen import values
from specgen.language import domains

REGNET = str(EXAMPLES / "regnet.conv")

# g, w and f are searched; b is a plain boolean parameter
SEARCHED = (
    "network n(g: choice(1, 2, 4) = 2, w: range(8, 33, step=8) = 16, "
    "f: uniform(0.5, 2.0) = 1.0, b=true)\n"
    "input 8x8x8\nlayers:\n    conv 1x1 out=w\n"
)
G_DOMAIN = (1, 14)  # where `choice(1, 2, 4)` is written
# a default outside its own domain
BAD_DEFAULT = "network n(g: choice(1, 2) = 3, w=8)\ninput 8x8x8\nlayers:\n    conv 1x1 out=w\n"


def _only(err: specgen.SpecError):
    assert len(err.diagnostics) == 1, [d.message for d in err.diagnostics]
    return err.diagnostics[0]


# ---- the declared default's type governs ----------------------------------------------------


def test_an_int_for_a_float_parameter_is_a_float():
    """`wa=24.48` is a float: 36 is taken as 36.0 (as an int, `/` refused 36 / 24 as inexact)."""
    net = specgen.compile(REGNET, params={"wa": 36})
    assert net.params["wa"] == 36.0 and type(net.params["wa"]) is float
    assert net.cost.params == specgen.compile(REGNET, params={"wa": 36.0}).cost.params


def test_an_int_for_a_float_parameter_from_the_command_line(cli):
    r = cli("cost", REGNET, "--set", "wa=36")
    assert r.code == 0, r.err
    params = specgen.compile(REGNET, params={"wa": 36.0}).cost.params
    assert f"params {params:,}" in r.out


def test_a_whole_float_for_an_int_parameter_is_an_int():
    net = specgen.compile(REGNET, params={"depth": 16.0})
    assert net.params["depth"] == 16 and type(net.params["depth"]) is int


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("depth", True, "parameter `depth` expects a value like 22, got true"),  # bool for int
        ("se_ratio", False, "parameter `se_ratio` expects a value like 0.0, got false"),
        ("depth", 2.5, "parameter `depth` expects a value like 22, got 2.5"),  # float for int
        ("wa", [1, 2], "parameter `wa` expects a value like 24.48, got [1, 2]"),
    ],
)
def test_a_value_of_another_type_is_refused_at_its_parameter(name, value, expected):
    d = _only(compile_error(REGNET, {name: value}))
    assert (d.code, d.message) == ("parameter-type", expected)
    assert d.span.line > 1 and d.span.column == 5  # the parameter's own line in regnet.conv


def test_an_int_for_a_bool_parameter_is_refused():
    d = _only(compile_error(SEARCHED, {"b": 1}))
    assert d.code == "parameter-type"
    assert d.message == "parameter `b` expects a value like true, got 1"
    assert (d.span.line, d.span.column) == (1, SEARCHED.index("b=true") + 1)


def test_a_bool_for_a_searched_int_parameter_is_a_type_error_not_a_domain_one():
    d = _only(compile_error(SEARCHED, {"g": True}))
    assert d.message == "parameter `g` expects a value like 2, got true"


def test_a_later_default_sees_the_converted_value():
    text = "network n(a=3.0, b=a / 2)\ninput 8x8x8\nlayers:\n    conv 1x1 out=8\n"
    net = specgen.compile(text, {"a": 3})  # 3 / 2 is inexact for ints: `a` must be 3.0
    assert net.params == {"a": 3.0, "b": 1.5}


def test_a_given_value_is_converted_once(monkeypatch):
    """One conversion per given value (`values.given_value`), none of them twice, and the
    elaborator converts nothing again (`from_python` runs at most once per value: an int
    given for an int parameter takes the fast path and skips it)."""
    from specgen.elaborate import parameters

    converted, created = [], []
    real_given, real_from = values.given_value, values.from_python

    def given(value, default):
        converted.append(value)
        return real_given(value, default)

    def from_python(value, max_items, max_depth):
        created.append(value)
        return real_from(value, max_items, max_depth)

    monkeypatch.setattr(parameters, "given_value", given)
    monkeypatch.setattr(values, "from_python", from_python)
    specgen.compile(SEARCHED, {"g": 4, "f": 1, "b": False})
    assert sorted(map(repr, converted)) == ["1", "4", "False"]
    assert len(created) == len(set(map(repr, created))) <= 3


# ---- domains ------------------------------------------------------------------------------


def test_a_given_value_outside_its_domain_is_reported_once_where_the_domain_is(monkeypatch):
    checks = []
    real = domains.check_values
    monkeypatch.setattr(domains, "check_values", lambda *a: checks.append(a) or real(*a))
    d = _only(compile_error(SEARCHED, {"g": 3}))
    assert len(checks) == 1
    assert d.code == "domain"
    assert d.message == "parameter `g` = 3 is outside its domain choice(1, 2, 4)"
    assert (d.span.line, d.span.column) == G_DOMAIN


def test_a_given_value_outside_its_domain_from_the_command_line(cli, tmp_path):
    path = tmp_path / "searched.conv"
    path.write_text(SEARCHED)
    r = cli("check", str(path), "--set", "g=3")
    assert r.code == 2
    assert r.err.count("is outside its domain") == 1
    assert f"searched.conv:{G_DOMAIN[0]}:{G_DOMAIN[1]}: error: parameter `g` = 3" in r.err


def test_a_converted_value_is_checked_as_converted():
    assert specgen.compile(SEARCHED, {"f": 2}).params["f"] == 2.0
    d = _only(compile_error(SEARCHED, {"f": 3}))
    assert d.message == "parameter `f` = 3.0 is outside its domain uniform(0.5, 2.0)"


def test_every_given_value_outside_its_domain_is_reported():
    err = compile_error(SEARCHED, {"g": 3, "w": 17})
    assert [d.message.split(" is ")[0] for d in err.diagnostics] == [
        "parameter `g` = 3",
        "parameter `w` = 17",
    ]


def test_a_default_outside_its_domain_is_still_reported():
    d = _only(compile_error(BAD_DEFAULT))
    assert d.message == "parameter `g` = 3 is outside its domain choice(1, 2)"
    assert (d.code, d.span.line, d.span.column) == ("domain", 1, 14)
    # another parameter given does not hide it
    assert _only(compile_error(BAD_DEFAULT, {"w": 16})).message == d.message
    # nor does giving `g` a value inside the domain leave anything to report
    assert specgen.compile(BAD_DEFAULT, {"g": 1}).params == {"g": 1, "w": 8}


def test_a_default_outside_its_domain_is_reported_after_the_expansion_mistakes():
    text = BAD_DEFAULT.replace("out=w", "out=w / 3")
    codes = [d.code for d in compile_error(text).diagnostics]
    assert codes == ["inexact-division", "domain"]


def test_a_domain_whose_values_the_default_type_cannot_take_is_refused_where_declared():
    """A choice of lists for an int parameter was a TypeError out of the domain check."""
    text = "network n(g: choice([1, 2], 3) = 3)\ninput 8x8x8\nlayers:\n    relu\n"
    d = _only(compile_error(text))
    assert d.code == "domain"
    assert (
        d.message == "`g` = 3 makes it an integer, but its domain choice([1, 2], 3) holds [1, 2]"
    )


def test_a_pinned_search_point_keeps_the_declared_type():
    """`Space.pin` writes the value the network was bound with: 36 given for RegNet's float
    `wa` is pinned as 36.0, so the pinned spec compiles to the same network."""
    space = specgen.space(EXAMPLES / "regnet.conv", params={"wa": 36})
    pinned = space.pin({})
    assert "wa=36.0," in pinned
    again = specgen.compile(pinned)
    assert dict(again.ir.params)["wa"] == 36.0
    assert isinstance(dict(again.ir.params)["wa"], float)
