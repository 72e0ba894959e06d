"""`specgen fmt` (specgen/tools/fmt/): the canonical layout keeps the meaning and every comment,
and formatting twice changes nothing.

The meaning is compared through what does not depend on source positions: the emitted
PyTorch source, or the cost rows and the mistakes found (codes and messages).  Comments are
found here independently of the formatter (a `#` outside a string).
"""

from __future__ import annotations

import io
import os
import random
import re
import stat

import pytest
import specgen_fuzz as fuzz
from conftest import EXAMPLE_FILES

import specgen
from specgen.errors import SpecError
from specgen.tools.fmt import fmt_command, format_source

FUZZ_SEEDS = range(240)  # programs of tests/specgen_fuzz.py
SPRINKLES = 120  # examples with comments, blank lines and line breaks thrown in


def comments(text: str) -> list[str]:
    """Every comment of a spec, in order, without trailing blanks."""
    found = re.finditer(r'"[^"\n]*"|(#[^\n]*)', text)
    return [m.group(1).rstrip() for m in found if m.group(1)]


def outcome(text: str) -> tuple:
    """What compiling `text` gives, without source positions."""
    try:
        net = specgen.compile(text)
    except SpecError as err:
        return ("error", err.codes, [d.message for d in err.diagnostics])
    rows = [(r.name, r.op, str(r.output), r.params, r.macs) for r in net.cost.layers]
    return ("ok", repr(net), rows)


def check_layout(text: str) -> None:
    lines = text.split("\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in lines), "trailing whitespace"
    assert all(not line.startswith("\t") for line in lines)
    assert "\n\n\n" not in text and "\r" not in text


def run(paths: list[str], check: bool = False, diff: bool = False, stdin: str = ""):
    out, err = io.StringIO(), io.StringIO()
    code = fmt_command(paths, check, diff, io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


# ---- the examples ---------------------------------------------------------------------------


def _brackets_joined(text: str) -> str:
    """Each multi-line bracket without a comment written on one line, its trailing comma
    dropped (the formatter must break the long ones again)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            if depth == 0:
                out.append(text[start:i])
                start = i
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                span = text[start : i + 1]
                if "\n" in span and "#" not in span:
                    span = re.sub(r",\s*([)\]}])$", r"\1", re.sub(r"\n\s*", " ", span))
                out.append(span)
                start = i + 1
    return "".join(out) + text[start:]


def messy(text: str) -> str:
    """The same spec laid out badly: 2-space indentation, odd spaces, tabs between tokens,
    three blank lines for one, trailing blanks, CRLF line ends and a byte-order mark.  A
    comment that continues the trailing comment above it stays under it (that alignment is
    what makes it a continuation)."""
    lines, above = [], None  # above: (old column, new column) of the last trailing comment
    for line in _brackets_joined(text).split("\n"):
        parts = re.split(r'("[^"\n]*")', line)
        code, comment = "", ""
        for k, part in enumerate(parts):
            if k % 2 == 0 and "#" in part:
                code += part[: part.index("#")]
                comment = part[part.index("#") :] + "".join(parts[k + 1 :])
                break
            code += part
        indent = len(code) - len(code.lstrip(" "))
        old_column = len(code)
        if not code.strip() and comment and above and above[0] == old_column:
            lines.append(" " * above[1] + comment)
            continue
        parts = re.split(r'("[^"\n]*")', " " * (indent // 2) + code[indent:].rstrip())
        for k in range(0, len(parts), 2):  # outside strings
            bad = re.sub(r"(?<![=!<>])=(?!=)", " = ", parts[k])
            bad = bad.replace(", ", " ,\t ").replace("(", " (  ").replace(")", "  )")
            parts[k] = bad.replace(" * ", "*").replace(" + ", "+")
        code = "".join(parts)
        above = (old_column, len(code) + 1) if code.strip() and comment else None
        if not code.strip() and not comment:
            lines.append("\n\n")
        elif comment:
            lines.append(f"{code} {comment}" if code.strip() else code + comment)
        else:
            lines.append(code + " \t")
    return "\ufeff" + "\r\n".join(lines)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_are_canonical(path):
    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_messy_examples_format_back(path):
    """A badly laid out example is the same network (the same PyTorch source) and formats to
    the example itself, every comment kept."""
    text = path.read_text(encoding="utf-8")
    bad = messy(text)
    assert bad != text
    assert specgen.compile(bad).emit("torch") == specgen.compile(text).emit("torch")
    formatted = format_source(bad, str(path))
    assert formatted == text
    assert comments(formatted) == comments(bad)


def test_fmt_check_passes_on_the_examples():
    assert run([str(p) for p in EXAMPLE_FILES], check=True) == (0, "", "")


# ---- properties over generated programs -----------------------------------------------------


def test_fuzz_programs_keep_their_meaning_and_comments():
    """Every generated program (any layout: comments, blank lines, 2 to 8 spaces, CRLF, a
    BOM; valid or not) that parses formats to a program with the same result (network or
    mistakes), the same comments, a clean layout, and formats to itself again; one that
    does not parse fails with the compiler's own error."""
    parsed = compiled = 0
    for seed in FUZZ_SEEDS:
        text = fuzz.program(seed)
        try:
            formatted = format_source(text, "<spec>")
        except SpecError as err:
            with pytest.raises(SpecError) as info:
                specgen.compile(text)
            assert err.render() == info.value.render(), f"seed {seed}"
            continue
        parsed += 1
        where = f"seed {seed}:\n{text}\n--- formatted ---\n{formatted}"
        check_layout(formatted)
        assert format_source(formatted) == formatted, where
        assert comments(formatted) == comments(text), where
        before, after = outcome(text), outcome(formatted)
        assert before == after, where
        compiled += before[0] == "ok"
    assert parsed >= 0.7 * len(FUZZ_SEEDS) and compiled >= 0.3 * len(FUZZ_SEEDS)


def _sprinkle(text: str, rng: random.Random, p: float) -> str:
    """`text` with comments, blank lines, line breaks and spaces thrown in at random: after
    commas and opening brackets (inside brackets the line may break), at line ends and on
    lines of their own at any indentation."""
    serial = iter(range(10**6))

    def comma(_m: re.Match) -> str:
        if rng.random() < p:
            return f",  # c{next(serial)}\n" + " " * rng.randrange(9)
        return "," + " " * rng.randrange(3)

    def opener(m: re.Match) -> str:
        if rng.random() < p:
            return f"{m.group()}  # o{next(serial)}\n"
        return m.group() + " " * rng.randrange(2)

    out = []
    for line in text.split("\n"):
        parts = re.split(r'("[^"\n]*"|#.*)', line)
        for k in range(0, len(parts), 2):
            parts[k] = re.sub(r"[(\[{]", opener, re.sub(",", comma, parts[k]))
        line = "".join(parts)
        if rng.random() < p:
            out.append(" " * rng.randrange(12) + f"# own{next(serial)}")
        if rng.random() < p:
            out.append("")
        if rng.random() < p and "#" not in line and line.strip():
            line += " " * rng.randrange(6) + f"# t{next(serial)}"
        out.append(line)
    return "\n".join(out)


def test_comments_anywhere_survive():
    """Comments after any comma or bracket, at line ends and on lines of their own, at any
    indentation, all survive (only one inside an item moves, to the end of that item), and
    the result is the same network and formats to itself."""
    rng = random.Random(7)
    tried = 0
    for i in range(SPRINKLES):
        path = EXAMPLE_FILES[i % len(EXAMPLE_FILES)]
        original = path.read_text(encoding="utf-8")
        text = _sprinkle(original, rng, p=(0.05, 0.15, 0.4)[i % 3])
        try:
            formatted = format_source(text)
        except SpecError:
            continue  # a line break after the comma of `for a, b in` ends the line
        tried += 1
        where = f"{path.name} #{i}:\n{text}\n--- formatted ---\n{formatted}"
        check_layout(formatted)
        assert format_source(formatted) == formatted, where
        assert sorted(comments(formatted)) == sorted(comments(text)), where
        assert outcome(formatted) == outcome(original), where
    assert tried >= SPRINKLES // 2


# ---- the layout -----------------------------------------------------------------------------


def test_spacing_is_canonical():
    text = (
        "network  n( g : choice( 1,2 ,4 )=2 ,width = 64 )\n"
        "input 3x32x32\n"
        "let  a=1+2*3-(4 // 2)**2\n"
        "let t = { 1:2 , 3 : [ 4,5 ] }\n"
        "let c = [ x*2 for x in range( 4 ) if x>0 and not x==3 ]\n"
        "let d = 1 if a>=2 else -a\n"
        "layers :\n"
        "  conv 3x3  out = width / 2 stride= 2\tbn  relu\n"
        "  conv 1x1 out=in*2 + 1 group =g\n"
        "  conv 1x1 out=(in - 8) // g bias = a == 7\n"
        "  conv( 1x1 , out = 8 ) x 2\n"
        "  fc (width-1)\n"
    )
    assert format_source(text) == (
        "network n(g: choice(1, 2, 4) = 2, width=64)\n"
        "input 3x32x32\n"
        "let a = 1 + 2 * 3 - (4 // 2) ** 2\n"
        "let t = {1: 2, 3: [4, 5]}\n"
        "let c = [x * 2 for x in range(4) if x > 0 and not x == 3]\n"
        "let d = 1 if a >= 2 else -a\n"
        "\n"
        "layers:\n"
        "    conv 3x3 out=width/2 stride=2 bn relu\n"
        "    conv 1x1 out=in*2+1 group=g\n"
        "    conv 1x1 out=(in - 8)//g bias=a == 7\n"
        "    conv(1x1, out=8) x 2\n"
        "    fc(width - 1)\n"
    )


def test_blank_lines():
    """None at the top, none between `network` and `input` or at the top of a body or before
    `elif`/`else`; exactly one around a block and before `layers:`; elsewhere at most one."""
    text = (
        "\n\n# header\n\n\n"
        "network n\n\n"
        "input 3x8x8\n"
        "let a = 1\n\n\n"
        "let b = 2\n"
        "block u:\n\n"
        "    relu\n\n\n\n"
        "    relu\n"
        "layers:\n"
        "    if a:\n"
        "        u\n\n"
        "    else:\n"
        "        relu\n"
        "    u\n"
        "\n\n"
    )
    assert format_source(text) == (
        "# header\n\n"
        "network n\n"
        "input 3x8x8\n"
        "let a = 1\n\n"
        "let b = 2\n\n"
        "block u:\n"
        "    relu\n\n"
        "    relu\n\n"
        "layers:\n"
        "    if a:\n"
        "        u\n"
        "    else:\n"
        "        relu\n"
        "    u\n"
    )


def test_comments_stay_in_place():
    text = (
        "# file comment\n"
        "network n(a=1,  # after a\n"
        "   # before b\n"
        "   b=2)\n"
        "# before input\n"
        "input 16x8x8\n"
        "let x = 1   # trailing\n"
        "# about the block\n"
        "block u(c):    # header\n"
        "\t# tab-indented comment line\n"
        "    residual:\n"
        "        conv 1x1 out=c\n"
        "            # deeper: stays in the residual\n"
        "      # shallower than the residual's body: in the block\n"
        "# column 1: between the block and layers\n"
        "layers:\n"
        "    u(16)          # one\n"
        "    relu # two\n"
        "         # continues two\n"
        "    if x:\n"
        "        relu\n"
        "    # before else\n"
        "    else:  # else\n"
        "        relu\n"
        "    # end of layers\n"
        "# end of file\n"
    )
    expected = (
        "# file comment\n"
        "network n(\n"
        "    a=1,  # after a\n"
        "    # before b\n"
        "    b=2,\n"
        ")\n"
        "# before input\n"
        "input 16x8x8\n"
        "let x = 1  # trailing\n"
        "\n"
        "# about the block\n"
        "block u(c):  # header\n"
        "    # tab-indented comment line\n"
        "    residual:\n"
        "        conv 1x1 out=c\n"
        "        # deeper: stays in the residual\n"
        "    # shallower than the residual's body: in the block\n"
        "\n"
        "# column 1: between the block and layers\n"
        "layers:\n"
        "    u(16)  # one\n"
        "    relu   # two\n"
        "           # continues two\n"
        "    if x:\n"
        "        relu\n"
        "    # before else\n"
        "    else:  # else\n"
        "        relu\n"
        "    # end of layers\n"
        "# end of file\n"
    )
    assert format_source(text) == expected
    assert format_source(expected) == expected
    assert outcome(text) == outcome(expected)


def test_comments_inside_brackets():
    text = (
        "network n\n"
        "input 3x8x8\n"
        "let a = [  # after the opener\n"
        "  1, 2  # after two\n"
        "  , 3]\n"
        "let b = {\n"
        "  # leads the first pair\n"
        "  1: 2,\n"
        "  # before the closer\n"
        "}\n"
        "let c = [  # only a comment\n"
        "]\n"
        "let d = max(1, (2 +  # inside an item: moves to its end\n"
        "   3))\n"
        "layers:\n"
        "    relu\n"
    )
    assert format_source(text) == (
        "network n\n"
        "input 3x8x8\n"
        "let a = [  # after the opener\n"
        "    1,\n"
        "    2,  # after two\n"
        "    3,\n"
        "]\n"
        "let b = {\n"
        "    # leads the first pair\n"
        "    1: 2,\n"
        "    # before the closer\n"
        "}\n"
        "let c = [  # only a comment\n"
        "]\n"
        "let d = max(\n"
        "    1,\n"
        "    (\n"
        "        2 + 3  # inside an item: moves to its end\n"
        "    ),\n"
        ")\n"
        "\n"
        "layers:\n"
        "    relu\n"
    )


def test_long_lines():
    """A bracket that does not fit in 99 columns, or ends with a trailing comma, is written
    one item per line (the inner ones that fit stay flat); nothing else is wrapped."""
    rows = ", ".join(f"[{i}, {i * 16}, {i % 3}, 1]" for i in range(1, 9))
    long_test = " or ".join(f"depth == {d}" for d in (18, 34, 50, 101, 152, 200))
    text = (
        "network n\n"
        "input 3x8x8\n"
        f"let cfg = [{rows}]\n"
        "let short = [1, 2,]\n"
        f'assert {long_test}, "depth"\n'
        "let w = [int(round(w0 * wm ** round(log((wa * i + w0) / w0) / log(wm)) / 8) * 8) "
        "for i in range(depth)]\n"
        "layers:\n"
        "    relu\n"
    )
    out = format_source(text)
    assert out.split("\n")[2:16] == [
        "let cfg = [",
        *(f"    [{i}, {i * 16}, {i % 3}, 1]," for i in range(1, 9)),
        "]",
        "let short = [",
        "    1,",
        "    2,",
        "]",
    ]
    assert f'assert {long_test}, "depth"\n' in out  # no bracket: left long
    assert (
        "let w = [\n"
        "    int(round(w0 * wm ** round(log((wa * i + w0) / w0) / log(wm)) / 8) * 8)\n"
        "    for i in range(depth)\n"
        "]\n"
    ) in out
    assert format_source(out) == out
    assert max(len(line) for line in out.split("\n") if "assert" not in line) <= 99


def test_line_ends_continuations_and_tabs():
    text = (
        "\ufeffnetwork n\r\ninput 3x8x8\r\nlet a = 1 + \\\r\n    2\r\nlayers:\r\n"
        "\tconv 1x1\t out=8\r\n"
    )
    with pytest.raises(SpecError) as info:  # a tab in the indentation is the compiler's error
        format_source(text, "t.conv")
    assert info.value.codes == ["syntax"]
    assert "indent with spaces, not tabs" in str(info.value)
    out = format_source(text.replace("\t", "  ", 1), "t.conv")
    assert out == "network n\ninput 3x8x8\nlet a = 1 + 2\n\nlayers:\n    conv 1x1 out=8\n"


def test_library_files_and_empty_files():
    lib = 'import "a.conv"\n# shared\nblock u( c ):\n  conv 1x1 out=c\nblock v:\n  u(8)\n'
    assert format_source(lib) == (
        'import "a.conv"\n\n# shared\nblock u(c):\n    conv 1x1 out=c\n\nblock v:\n    u(8)\n'
    )
    assert format_source("") == ""
    assert format_source("\n \n") == ""
    assert format_source("# just\n\n\n# notes  \n") == "# just\n\n# notes\n"


@pytest.mark.parametrize(
    "text",
    [
        "network n\ninput 3x8x8\nlayers:\n    conv 3x3 out=(8\n",
        "network n\ninput 3x8x8\nlayers:\n    conv 3x3 out=\n",
        "network n\ninput 3x8x8\nlayers:\n    relu\n   relu\n",
        "input 3x8x8\nlayers:\n    relu\n",
        "network n\ninput 3x8\nlayers:\n    relu\n",
        "network n\ninput 3x8x8\nlayers:\n    conv 3x3 out=range(1, 2, foo=3)\n",
    ],
)
def test_a_file_that_does_not_parse_gives_the_compilers_error(text):
    with pytest.raises(SpecError) as info:
        format_source(text, "bad.conv")
    with pytest.raises(SpecError) as compiled:
        specgen.compile(text, filename="bad.conv")
    assert info.value.render() == compiled.value.render()
    assert info.value.line > 0


def test_a_library_that_does_not_parse_gives_the_import_error():
    with pytest.raises(SpecError) as info:
        format_source("block u:\n    conv 1x1 out=\n", "lib.conv")
    # where the mistake is, not "expected `network`" at line 1
    assert (info.value.filename, info.value.line, info.value.column) == ("lib.conv", 2, 18)
    assert info.value.message.startswith("unexpected end of line")


# ---- the command ----------------------------------------------------------------------------

UGLY = "network n\ninput 3x8x8\nlayers:\n  conv 1x1 out = 8 # c\n"
PRETTY = "network n\ninput 3x8x8\n\nlayers:\n    conv 1x1 out=8  # c\n"


def test_formats_in_place_keeping_the_mode(tmp_path):
    ugly, pretty = tmp_path / "ugly.conv", tmp_path / "pretty.conv"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    os.chmod(ugly, 0o640)
    before = os.stat(pretty)
    code, out, err = run([str(ugly), str(pretty)])
    assert (code, out) == (0, "")
    assert err == f"reformatted {ugly}\n"
    assert ugly.read_text() == PRETTY
    assert stat.S_IMODE(os.stat(ugly).st_mode) == 0o640
    after = os.stat(pretty)  # an unchanged file is not written
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert run([str(ugly)]) == (0, "", "")


def test_crlf_files_are_rewritten(tmp_path):
    path = tmp_path / "crlf.conv"
    path.write_bytes(PRETTY.replace("\n", "\r\n").encode())
    assert run([str(path)], check=True)[0] == 1
    assert run([str(path)])[0] == 0
    assert path.read_bytes() == PRETTY.encode()


def test_check_writes_nothing_and_lists_the_files(tmp_path):
    ugly, pretty = tmp_path / "ugly.conv", tmp_path / "pretty.conv"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    assert run([str(ugly), str(pretty)], check=True) == (1, "", f"would reformat {ugly}\n")
    assert ugly.read_text() == UGLY
    assert run([str(pretty)], check=True) == (0, "", "")


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    ugly = tmp_path / "ugly.conv"
    ugly.write_text(UGLY)
    code, out, err = run([str(ugly)], diff=True)
    assert (code, err) == (0, "")
    assert out.startswith(f"--- {ugly}\t(original)\n+++ {ugly}\t(formatted)\n@@ ")
    assert "\n-  conv 1x1 out = 8 # c\n+    conv 1x1 out=8  # c\n" in out
    assert ugly.read_text() == UGLY
    assert run([str(ugly)], check=True, diff=True)[0] == 1
    ugly.write_text(UGLY.rstrip("\n"))
    assert "\\ No newline at end of file\n" in run([str(ugly)], diff=True)[1]


def test_standard_input_to_standard_output():
    assert run(["-"], stdin=UGLY) == (0, PRETTY, "")
    assert run(["-"], stdin=PRETTY) == (0, PRETTY, "")
    assert run(["-"], check=True, stdin=UGLY) == (1, "", "would reformat <stdin>\n")
    code, out, _ = run(["-"], diff=True, stdin=UGLY)
    assert code == 0 and out.startswith("--- <stdin>\t(original)\n")


def test_mistakes_exit_2_and_the_other_files_are_still_formatted(tmp_path):
    bad, ugly = tmp_path / "bad.conv", tmp_path / "ugly.conv"
    bad.write_text("network n\ninput 3x8x8\nlayers:\n    conv 3x3 out=\n")
    ugly.write_text(UGLY)
    code, out, err = run([str(bad), str(ugly), str(tmp_path / "missing.conv")])
    assert (code, out) == (2, "")
    assert f"{bad}:4:18: error: unexpected end of line" in err
    assert f"{tmp_path / 'missing.conv'}: error: no such file" in err
    assert ugly.read_text() == PRETTY
    assert run(["-"], stdin="network n\n")[0] == 2


def test_only_regular_files_are_written(tmp_path):
    target = tmp_path / "target.conv"
    target.write_text(UGLY)
    link = tmp_path / "link.conv"
    link.symlink_to(target)
    code, _, err = run([str(link)])
    assert code == 2 and "symlink" in err
    assert target.read_text() == UGLY and link.is_symlink()
    assert run([str(link)], check=True)[0] == 1  # reading through it is fine
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.conv"
        os.mkfifo(fifo)
        code, _, err = run([str(fifo)])  # refused without opening it (which would block)
        assert code == 2 and "not a regular file" in err
    code, _, err = run([str(tmp_path)])
    assert code == 2 and "is a directory" in err


def test_a_spec_that_formatting_would_push_past_the_size_limit_is_refused():
    from specgen.language.parse import parse

    items = ", ".join(str(i) for i in range(5000))  # one per line: 5,000 lines more
    text = f"network n\ninput 3x8x8\nlet a = [{items}]\nlayers:\n" + "    relu\n" * 5100
    parse(text)  # within the limits as it is
    with pytest.raises(SpecError) as info:
        format_source(text)
    assert info.value.codes == ["limit"]
    assert "would exceed the size limits" in info.value.message
