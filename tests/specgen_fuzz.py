"""Grammar-aware random `.conv` programs, and the properties every compile must satisfy.

`generate(rng, size)` writes a whole program from the grammar and the layer vocabulary
(`specgen.layers.OPS`): a header with parameters, an input, top-level lets and asserts, blocks
that call earlier blocks, and bodies of layer lines, block calls, repeats, `as NAME`, lets,
`if`/`elif`/`else`, `for` loops, asserts and composites.  It follows the channel arithmetic loosely (it
tracks a divisor every channel count is known to have) so most programs are valid or nearly
valid, and it makes deliberate mistakes at a tunable rate (`Mistakes`).

The properties, for any program:

- `check(text)`: `specgen.compile` returns a Network (whose costs and shapes compute) or
  raises SpecError, nothing else, within the time limit; every diagnostic has a line and
  column inside the program and renders that line with a caret under the column;
- `check_torch(net)`: the PyTorch module has the compiler's params, MACs (FlopCounterMode),
  output shape and block output shapes;
- `check_emit(net, text)`: the emitted torch and keras source is the same on every emit;
- `check_blocks(net, text)`: every block call expands as the same call does on its own (the
  body of a block sees only the globals, its parameters and `in`).

Used by tests/test_fuzz_grammar.py and bench/fuzz.py (docs/fuzzing.md).
"""

from __future__ import annotations

import keyword
import math
import random
import re
import sys
import time
from dataclasses import dataclass, field, replace

import specgen
from specgen.language.words import COMPOSITES, KEYWORDS
from specgen.layers import OPS, REQUIRED
from specgen.values import format_value

CONVS = ["conv", "pwconv", "dwconv", "sepconv", "gdc", "igc"]
TRAILING = [name for name, op in OPS.items() if op.trailing]
# the trailing layers written bare (`layerscale` needs its initial value: see `trailing`)
NOT_BARE = ("bn", "dropout", "droppath", "leakyrelu", "layerscale")
ACTIVATIONS = [n for n in TRAILING if n not in NOT_BARE]
assert all(n in OPS for n in CONVS + ["shuffle", "maxpool", "avgpool", "gap", "gmp", "flatten"])
assert all(n in OPS for n in ["fc", "identity", "dropout", "bn", "leakyrelu"])
KNOWN = {
    *CONVS,
    *TRAILING,
    "shuffle",
    "maxpool",
    "avgpool",
    "gap",
    "gmp",
    "flatten",
    "fc",
    "identity",
    "slice",
}
# layers the generator has no special rules for: written from their argument specs alone
OTHER = [name for name in OPS if name not in KNOWN]
RESERVED = sorted(
    {"in", "x", "None", "True", "class", "lambda", "layers", "true", "relu", "conv", "bn"}
    | {"residual", "shortcut", "split", "gap", "fc", "identity", "input", "network"}
)
assert all(n in KEYWORDS or n in OPS or n in COMPOSITES or keyword.iskeyword(n) for n in RESERVED)

# parameter roles: the values a caller may pass, and what the body may assume about them
ROLE_VALUES = {
    "ch": [16, 32, 48, 64],
    "g": [1, 2, 4],
    "s": [1, 2],
    "k": [1, 3, 5],
    "t": [1, 2, 3],
    "n": [1, 2, 3],
    "classes": [10, 7, 100, 2],
    "ratio": [0.5, 0.75, 1.0, 1.5],
    "p": [0.1, 0.2, 0.5],
    "flag": ["true", "false"],
}
STEMS = {
    "ch": ["width", "c", "ch", "planes", "mid", "base", "wide", "out_c", "hidden"],
    "g": ["g", "groups_", "grp", "ng"],
    "s": ["s", "stride_", "st", "down"],
    "k": ["k", "ks", "kern"],
    "t": ["t", "expand", "mult"],
    "n": ["n", "depth", "reps", "blocks_"],
    "classes": ["classes", "num_classes", "outs"],
    "ratio": ["ratio", "alpha", "width_mult"],
    "p": ["p_drop", "rate"],
    "flag": ["use_bias", "b"],
    "widths": ["widths", "chans", "stages"],
    "tab": ["table", "per_g", "lookup"],
}
BLOCK_STEMS = ["unit", "stage", "down", "stem", "bottleneck", "fire", "cell", "inverted", "mix"]
TYPOS = {"conv": "cnv", "relu": "rlu", "pwconv": "pw_conv", "sepconv": "sep", "bn": "batchnorm"}
HUGE = ["99999999999999999999", "2**60", "1048577", "10**15", "9007199254740993", "2**53*4"]


@dataclass(frozen=True)
class Mistakes:
    """How often the generator makes each deliberate mistake.

    `rate` is the chance at each site where a mistake fits; the weights scale it per kind.
    """

    rate: float = 0.01
    divisibility: float = 1.0
    names: float = 1.0  # unknown names, layers, blocks, functions, arguments
    types: float = 1.0  # wrong types and ranges, missing or duplicate arguments
    huge: float = 0.6
    structure: float = 0.8  # misplaced composites, shape mismatches, bad block calls
    syntax: float = 0.4
    reserved: float = 0.6
    recursive: float = 0.03  # per program
    indent: float = 0.02  # per program: one line indented wrongly (or with a tab)

    def off(self) -> Mistakes:
        return replace(self, rate=0.0, recursive=0.0, indent=0.0)


@dataclass(frozen=True)
class Sym:
    """A name in scope: its role, its value where known (globals) and a divisor of it."""

    name: str
    role: str
    value: object = None
    d: int = 1  # for `ch`: every value it can take is a multiple of d


@dataclass
class BlockInfo:
    name: str
    params: list[tuple[str, str, str | None]]  # (name, role, default text)
    d_req: int  # the body assumes its input channels are a multiple of this
    d_out: int = 1
    keeps_in: bool = False  # output channels equal input channels
    keeps_hw: bool = True  # no stride, no global pooling anywhere
    one: bool = False  # output is 1x1
    layers: int = 1  # upper estimate of the layers one call expands to


@dataclass
class Ctx:
    names: dict[str, Sym]
    d_in: int | None  # divisor of `in` (None at the top level: `in` is undefined)
    depth: int = 0  # composite nesting
    in_block: BlockInfo | None = None
    keep_hw: bool = False  # inside a composite: no strides, no global pooling
    loop: bool = False  # inside a `for` body: no `as NAME` (a repeated line repeats its name)

    def child(self, d_in: int | None = None, **kw) -> Ctx:
        """The body of a composite: a scope of its own."""
        d = self.d_in if d_in is None else d_in
        kw.setdefault("loop", self.loop)
        return Ctx(dict(self.names), d, self.depth + 1, self.in_block, **kw)

    def same_scope(self, **kw) -> Ctx:
        """The body of an `if` or a `for`: not a scope (its names stay defined after it)."""
        kw.setdefault("keep_hw", self.keep_hw)
        kw.setdefault("loop", self.loop)
        return Ctx(self.names, self.d_in, self.depth + 1, self.in_block, **kw)


@dataclass
class St:
    """The state after a statement: a divisor of the channels, an expression for them in the
    current scope (or None), whether the map is 1x1, whether channels equal `in`."""

    d: int
    cexpr: str | None = "in"
    one: bool = False
    layers: int = 0
    keeps_hw: bool = True


def _divisors(n: int, cap: int = 16) -> list[int]:
    return [k for k in range(1, cap + 1) if n % k == 0]


class _Gen:
    def __init__(self, rng: random.Random, size: int, mistakes: Mistakes):
        self.r = rng
        self.size = max(1, size)
        self.m = mistakes
        self.used: set[str] = set()
        self.blocks: list[BlockInfo] = []
        self.globals: dict[str, Sym] = {}
        self.recursion: tuple[int, str] | None = None

    # ---- helpers --------------------------------------------------------------------------

    def bad(self, kind: str) -> bool:
        return self.r.random() < self.m.rate * getattr(self.m, kind)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def fresh(self, stem: str) -> str:
        if self.bad("reserved"):
            return self.r.choice(RESERVED)
        name, i = stem, 1
        while name in self.used:
            i += 1
            name = f"{stem}{i}"
        self.used.add(name)
        return name

    def names_of(self, ctx: Ctx, role: str) -> list[Sym]:
        return [s for s in ctx.names.values() if s.role == role]

    def typo(self, name: str) -> str:
        if len(name) > 2 and self.chance(0.6):
            i = self.r.randrange(len(name) - 1)
            return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        return name + self.r.choice(["_", "2", "s", "x"])

    def number(self, value: int) -> str:
        """An expression for a known integer, written a few ways."""
        c = self.r.random()
        if c < 0.7:
            return str(value)
        if c < 0.8 and value % 2 == 0:
            return f"{value // 2}*2"
        if c < 0.85 and value > 1 and (value & (value - 1)) == 0:
            return f"2**{value.bit_length() - 1}"
        if c < 0.9:
            return f"({value})"
        if c < 0.95:
            return f"{value}.0"
        return f"int({value}.4)"

    # ---- expressions ----------------------------------------------------------------------

    def ch_expr(self, ctx: Ctx, need: int = 1) -> tuple[str, int]:
        """An expression for a channel count, and a divisor it is known to have; tries to
        return a multiple of `need`."""
        for _ in range(6):
            text, d = self._ch_expr(ctx)
            if d % need == 0:
                return text, d
        return text, d

    def _ch_expr(self, ctx: Ctx) -> tuple[str, int]:
        r = self.r
        if self.bad("huge"):
            return r.choice(HUGE), 1
        if self.bad("types"):
            return r.choice(["2.5", "true", "[16, 32]", "-16", "0", "in/0", "{1: 2}", "1e400"]), 1
        if self.bad("names"):
            known = [s.name for s in ctx.names.values()] or ["width"]
            return r.choice([self.typo(r.choice(known)), "chanels", "foo(2)", "sqroot(16)"]), 1
        if self.bad("divisibility") and ctx.d_in:
            return r.choice(["in/3", "in/5", "in*2/7", "in//3"]), 1
        opts: list = []
        din = ctx.d_in
        lit = r.choice(ROLE_VALUES["ch"])
        opts.append((3, (self.number(lit), lit)))
        chs = self.names_of(ctx, "ch")
        if chs:
            s = r.choice(chs)
            opts.append((4, (s.name, s.d)))
            mult = r.choice(self.names_of(ctx, "t") or [Sym("2", "t", 2)])
            opts.append((1, (f"{s.name}*{mult.name}", s.d * (mult.value or 1))))
            ratio = self.names_of(ctx, "ratio")
            if ratio:
                opts.append((1, (f"make_divisible({s.name} * {r.choice(ratio).name}, 16)", 16)))
            opts.append((1, (f"max({s.name}, 16)", math.gcd(s.d, 16))))
        for s in self.names_of(ctx, "widths"):
            i = r.randrange(len(s.value))
            opts.append(
                (2, (f"{s.name}[{i if r.random() < 0.8 else i - len(s.value)}]", s.value[i]))
            )
        for s in self.names_of(ctx, "tab"):
            gs = [g for g in self.names_of(ctx, "g") if g.value in s.value]
            if gs:
                g = r.choice(gs)
                opts.append((2, (f"{s.name}[{g.name}]", math.gcd(*s.value.values()))))
        gs = self.names_of(ctx, "g")
        if gs:
            g = r.choice(gs)
            opts.append((1, (f"{{1: 16, 2: 32, 4: 64}}[{g.name}]", 16)))
            opts.append((1, (f"16*{g.name}", 16)))
        if din:
            opts.append((5, ("in", din)))
            opts.append((3, (r.choice(["in*2", "2*in", "in + in", "sum([in, in])"]), 2 * din)))
            opts.append((1, (r.choice(["(in)", "abs(in)", "+in", "in*1.0", "in**1"]), din)))
            opts.append((1, (f"min(in, {lit})", math.gcd(din, lit))))
            opts.append((1, ("make_divisible(in * 0.75, 8)", 8)))
            if din % 2 == 0:
                opts.append((3, (r.choice(["in/2", "in//2", "round(in * 0.5)"]), din // 2)))
                opts.append((1, ("int(in * 1.5)", din // 2 * 3)))
            if din % 4 == 0:
                opts.append((1, ("in/4", din // 4)))
            # conditional expressions, comparisons and comprehensions
            opts.append(
                (1, (r.choice(["(in if in >= 16 else in*2)", "in*2 if in < 8 else in"]), din))
            )
            opts.append((1, ("sum([in for j_ in range(2)])", 2 * din)))
        opts.append((1, ("[w_ * 2 for w_ in [8, 16, 32]][1]", 32)))
        opts.append((1, ("(16 if true else 3)", 16)))
        weights = [w for w, _ in opts]
        return r.choices([o for _, o in opts], weights)[0]

    def group_expr(self, ctx: Ctx, d: int) -> str:
        """A group count that divides every multiple of `d` (unless a mistake is made)."""
        r = self.r
        if self.bad("divisibility"):
            return str(r.choice([k for k in (3, 5, 6, 7, 12) if d % k] or [d + 1]))
        if self.bad("types"):
            return r.choice(["0", "-2", "1.5", "true"])
        opts = [str(k) for k in _divisors(d) if k > 1] or ["1"]
        texts = [r.choice(opts)]
        for s in self.names_of(ctx, "g"):
            vals = [s.value] if s.value is not None else ROLE_VALUES["g"]
            if all(d % v == 0 for v in vals):
                texts += [s.name, s.name, f"min({s.name}, 2)", f"max(1, {s.name})"]
        return r.choice(texts)

    def stride_expr(self, ctx: Ctx) -> str:
        r = self.r
        if self.bad("types"):
            return r.choice(["0", "[1, 2, 3]", "-1", "1.5"])
        if self.bad("huge"):
            return r.choice(["70000", "10**15"])
        ss = [s.name for s in self.names_of(ctx, "s")]
        ss += [f"2 if {i.name} == 0 else 1" for i in self.names_of(ctx, "idx")]
        return r.choice(["2", "2", "[2, 1]", "[1, 2]", "2x2"] + ss * 3)

    def kernel(self, ctx: Ctx, *, odd: bool = True) -> str:
        r = self.r
        if self.bad("types"):
            return r.choice(["0x0", "[1, 2, 3]", "2.5", "-3"])
        if self.bad("huge"):
            return r.choice(["99x99", "3x1000000000000000000000", "70000"])
        ks = [s.name for s in self.names_of(ctx, "k")]
        opts = ["3x3", "3x3", "1x1", "5x5", "3", "1x3", "3x1", "[3, 3]", "(3)", "7x7"] + ks * 2
        if not odd:
            opts += ["2x2", "4", "2x3"]
        return r.choice(opts)

    def trailing(self) -> list[str]:
        r = self.r
        if self.chance(0.25):
            return []
        out = []
        if self.chance(0.7):
            out.append(r.choice(["bn", "bn", "bn(1e-3)", "bn(1e-3, 0.01)"]))
        if self.chance(0.8):
            act = r.choice(ACTIVATIONS + ["leakyrelu(0.2)", "leakyrelu"])
            out.append(act)
        if self.chance(0.1):
            out.append(r.choice(["dropout", "dropout(0.2)", "dropout(0.1)", "droppath(0.1)"]))
        if self.chance(0.05):
            out.append(r.choice(["layerscale(1e-6)", "layerscale(0.5)", "layernorm(1e-6)"]))
        if self.bad("names"):
            out.append(r.choice(["rlu", "batchnorm", "swish", "softmax"]))
        if self.bad("types"):
            out.append(
                r.choice(
                    ["bn(momentum=1.5)", "dropout(1.5)", "leakyrelu(-1)", "bn(-1)", "droppath"]
                )
            )
        return out

    # ---- layer lines ----------------------------------------------------------------------

    def chan_layer(
        self, ctx: Ctx, st: St, out: tuple[str, int] | None = None, stride: str | None = None
    ) -> tuple[str, St]:
        """conv / pwconv / sepconv / dwconv: a layer line and the state after it."""
        r = self.r
        kinds = ["conv", "conv", "pwconv", "sepconv"] + (["dwconv"] if out is None else [])
        kind = r.choice(kinds)
        if out is None and self.chance(0.75) and kind != "dwconv":
            out = self.ch_expr(ctx)
        args: list[str] = []
        if kind != "pwconv":
            k = self.kernel(ctx, odd=ctx.keep_hw or st.one or not self.chance(0.05))
            if self.bad("types") and kind == "conv":
                k = None  # missing kernel
            if k is not None:
                args.append(k if self.chance(0.85) else f"kernel={k}")
        d_out = st.d
        cexpr = st.cexpr
        if out is not None:
            text, d_out = out
            if kind == "pwconv" and self.chance(0.5) and re.fullmatch(r"[A-Za-z_0-9.]+", text):
                args.append(text)
            else:
                args.append(f"out={text}")
            cexpr = text if re.fullmatch(r"[A-Za-z_0-9]+", text) else None
        if kind == "dwconv" and self.chance(0.3):
            m = r.choice([2, 3])
            args.append(f"multiplier={m}")
            d_out = st.d * m
            cexpr = None
        if kind in ("conv", "pwconv") and self.chance(0.3):
            args.append(f"group={self.group_expr(ctx, math.gcd(st.d, d_out))}")
        if stride is not None:
            args.append(f"stride={stride}")
        elif not ctx.keep_hw and self.chance(0.15):
            args.append(f"stride={self.stride_expr(ctx)}")
        if kind in ("conv", "dwconv", "sepconv") and self.chance(0.08):
            same = ["padding=1"] if args and args[0] in ("3x3", "3", "(3)", "[3, 3]") else []
            args.append(r.choice(["dilation=2", "dilation=[1, 2]", *same]))
        if kind != "sepconv" and self.chance(0.08):
            args.append(r.choice(["bias", "bias=false", "bias=true"]))
        if self.bad("names"):
            args.append(r.choice(["stide=2", "groups=2", "outs=8", "kernal=3", "eps=1e-3"]))
        if self.bad("types"):
            args.append(r.choice(["out=8", "padding=-1", "dilation=0", "bias=2"]))
        name = kind
        if self.bad("names"):
            name = TYPOS.get(kind, kind + "2")
        line = self._layer_text(name, args)
        st = replace(st, d=d_out, cexpr=cexpr, layers=st.layers + 3)
        return line, st

    def _layer_text(self, name: str, args: list[str]) -> str:
        trail = self.trailing()
        if args and self.chance(0.12):  # call form: conv(3x3, out=64) bn relu
            kws = [a for a in args if "=" in a and "==" not in a]
            pos = [a for a in args if a not in kws]
            head = f"{name}({', '.join(pos + kws)})"
        else:
            head = " ".join([name, *args])
        if self.bad("syntax"):
            head = self.r.choice(
                [head.replace("=", " = =", 1), head + " )", head + ",", "(" + head]
            )
        return " ".join([head, *trail])

    def layer(self, ctx: Ctx, st: St) -> tuple[str, St]:
        """Any one-line layer statement, possibly repeated (`x N`)."""
        r = self.r
        before = st
        kind = r.choices(
            [
                "chan",
                "shuffle",
                "act",
                "pool",
                "igc",
                "gdc",
                "global",
                "fc",
                "misc",
                "other",
                "slice",
            ],
            [10, 2, 3, 2, 1, 1, 1, 1, 2, 1 if OTHER and not ctx.keep_hw else 0, 0.5],
        )[0]
        if kind == "igc" and st.cexpr is not None:
            ms = [m for m in (1, 2, 4, 8) if st.d % m == 0]
            m = r.choice(ms)
            ce = st.cexpr if re.fullmatch(r"[A-Za-z_0-9]+", st.cexpr) else f"({st.cexpr})"
            if self.bad("divisibility"):
                m = 3
            k = r.choice([[], ["3x3"], ["1x1"], ["5x5"], ["kernel=3"]])
            line = self._layer_text("igc", [*k, f"M={m}", f"L={ce}/{m}"])
            st = replace(st, layers=st.layers + 3)
        elif kind == "shuffle":
            g = self.group_expr(ctx, st.d)
            line = f"shuffle group={g}" if self.chance(0.6) else f"shuffle {g}"
            if self.bad("types"):
                line = "shuffle"
            st = replace(st, layers=st.layers + 1)
        elif kind == "act":
            line = " ".join(self.trailing() or ["relu"])
            st = replace(st, layers=st.layers + 2)
        elif kind == "pool":
            k = r.choice(["3x3", "3", "5x5", "1x1"] + ([] if st.one else ["2x2"]))
            args = [k]
            if k == "2x2" and ctx.keep_hw:
                args = ["3x3"]
            if not ctx.keep_hw and self.chance(0.5):
                args.append(f"stride={self.stride_expr(ctx)}")
            elif ctx.keep_hw or self.chance(0.5):  # the size-keeping stride, written out
                args.append(r.choice(["stride=1", "stride=[1, 1]", "stride=1x1"]))
            if self.bad("types"):
                args.append("padding=3")
            line = " ".join([r.choice(["maxpool", "avgpool"]), *args])
            st = replace(st, layers=st.layers + 1)
        elif kind == "gdc" and not ctx.keep_hw:
            line = self._layer_text("gdc", r.choice([[], ["bias"], ["bias=false"]]))
            st = replace(st, one=True, layers=st.layers + 3, keeps_hw=False)
        elif kind == "global" and not ctx.keep_hw:
            line = r.choice(["gap", "gmp", "gap", "flatten"])
            if line == "flatten" and not st.one:
                st = replace(st, cexpr=None)
            st = replace(st, one=True, layers=st.layers + 1, keeps_hw=False)
        elif kind == "fc" and (st.one or self.bad("structure")) and not ctx.keep_hw:
            out = self.r.choice(self.names_of(ctx, "classes") or [Sym("10", "classes", 10)])
            text, d = (out.name, out.value or 1) if self.chance(0.6) else self.ch_expr(ctx)
            line = self._layer_text(
                "fc",
                [r.choice([text, f"out={text}"]) if re.fullmatch(r"\w+", text) else f"out={text}"],
            )
            st = replace(st, d=d, cexpr=None, layers=st.layers + 3, keeps_hw=False)
        elif kind == "other":
            line = self.other_layer(r.choice(OTHER))
            st = replace(st, cexpr=None, one=False, layers=st.layers + 3, keeps_hw=False)
        elif kind == "misc":
            line = r.choice(["identity", "dropout", "dropout 0.3", "bn", "bn 1e-3", "relu"])
            if line == "identity" and st.cexpr is not None and st.layers % 2:
                # every channel, from 0: also a no-op, written without drawing from the
                # generator (the programs stay those of every seed before `slice` existed)
                ce = st.cexpr if re.fullmatch(r"[A-Za-z_0-9]+", st.cexpr) else f"({st.cexpr})"
                line = f"slice {ce}" if st.layers % 4 == 1 else f"slice out={ce} start=0"
            st = replace(st, layers=st.layers + 1)
        else:
            line, st = self.chan_layer(ctx, st)
        if self.chance(0.08) and not (ctx.keep_hw and ("stride" in line)):
            if self.chance(0.2):
                st = before  # `x 0` removes the line
                n = "0"
            else:
                n = r.choice(["2", "3", "1"] + [s.name for s in self.names_of(ctx, "n")])
            if self.bad("huge"):
                n = r.choice(["10001", "99999999", "2**40"])
            elif self.bad("types"):
                n = r.choice(["-1", "2.5", "[2]"])
            line += f" x {n}"
            st = replace(st, layers=st.layers * 3, cexpr=st.cexpr)
        return line, st

    def other_layer(self, name: str) -> str:
        """A line for a layer the generator has no rules for, from its argument specs: the
        required arguments and some optional ones, with values of the right kind and range."""
        op = OPS[name]
        args = []
        for a in op.args:
            if a.default is not REQUIRED and not self.chance(0.3):
                continue
            value = self.arg_value(a)
            if value is None:
                continue
            if a.name in op.positional and not args and self.chance(0.5):
                args.append(value if re.fullmatch(r"[\w.]+|\[.*\]", value) else f"({value})")
            else:
                args.append(f"{a.name}={value}")
        return self._layer_text(name, args)

    def arg_value(self, a) -> str | None:
        """A value for the argument spec `a` (mostly in range; out of it as a mistake)."""
        r = self.r
        low = a.low if a.low is not None else 0
        high = a.high if a.high is not None else 10**6
        if self.bad("types") and a.kind in ("int", "pair", "float"):
            return r.choice([str(high + 1), str(low - 1), "true", "[1, 2, 3]"])
        if a.kind == "bool":
            return r.choice(["true", "false"])
        if a.kind == "choice":
            return r.choice(a.choices) if a.choices else None
        if a.kind in ("int", "pair", "padding"):
            ints = [v for v in (0, 1, 2, 3, 4, 8, 16) if low <= v <= high] or [int(low)]
            if a.kind == "padding" and "same" in a.choices and self.chance(0.3):
                return "same"
            if a.kind != "int" and self.chance(0.3):
                return f"[{r.choice(ints)}, {r.choice(ints)}]"
            return str(r.choice(ints))
        if a.kind == "float":
            number = isinstance(a.default, (int, float)) and not isinstance(a.default, bool)
            if number and self.chance(0.5):
                return repr(float(a.default))
            return repr(round(low + (min(high, low + 1) - low) * r.random(), 3))
        return None

    # ---- block calls ----------------------------------------------------------------------

    def arg_for(self, ctx: Ctx, role: str) -> str:
        if role == "ch":
            return self.ch_expr(ctx, need=16)[0]
        names = [s.name for s in self.names_of(ctx, role)]
        if role == "g":
            return self.group_expr(ctx, 4) if self.chance(0.7) else self.r.choice(names or ["2"])
        if names and self.chance(0.5):
            return self.r.choice(names)
        return str(self.r.choice(ROLE_VALUES[role]))

    def call(self, ctx: Ctx, st: St, *, keep_hw: bool) -> tuple[str, St] | None:
        """A call of an earlier block that fits the current channels, or None."""
        limit = 400
        fits = [
            b
            for b in self.blocks
            if st.d % b.d_req == 0 and b.layers <= limit and (b.keeps_hw or not keep_hw)
        ]
        if self.bad("structure"):
            fits = [b for b in self.blocks if b.layers <= limit]
        if ctx.in_block is not None:
            fits = [b for b in fits if b.name != ctx.in_block.name]
        if not fits:
            return None
        b = self.r.choice(fits)
        args: list[str] = []
        positional = True
        for pname, role, default in b.params:
            if default is not None and not self.chance(0.45):
                positional = False
                continue
            if self.bad("structure"):  # missing argument
                positional = False
                continue
            value = self.arg_for(ctx, role)
            if positional and self.chance(0.6):
                args.append(value)
            else:
                positional = False
                args.append(f"{pname}={value}")
        if self.bad("structure"):
            args.append(
                self.r.choice(["99", "nope=1", f"{b.params[0][0]}=16" if b.params else "1"])
            )
        name = b.name
        if self.bad("names"):
            name = self.typo(name)
        if not args:
            text = name if self.chance(0.5) else f"{name}()"
        elif self.chance(0.25) and all(re.fullmatch(r"\w+=\w+|\w+", a) for a in args):
            text = " ".join([name, *args])
        else:
            text = f"{name}({', '.join(args)})"
        d_out = b.d_out if not b.keeps_in else st.d
        layers = b.layers
        if (b.keeps_in or d_out % b.d_req == 0) and self.chance(0.15) and not keep_hw:
            n = self.r.choice(["2", "3"] + [s.name for s in self.names_of(ctx, "n")])
            text += f" x {n}"
            layers *= 3
        cexpr = st.cexpr if b.keeps_in else None
        one = (st.one and b.keeps_hw) or b.one
        return text, replace(
            st, d=d_out, cexpr=cexpr, one=one, layers=st.layers + layers,
            keeps_hw=st.keeps_hw and b.keeps_hw,
        )  # fmt: skip

    # ---- composites -----------------------------------------------------------------------

    def final_to(self, ctx: Ctx, st: St, target: tuple[str, int], stride: str | None) -> list:
        """A statement that ends with `target` channels (and `stride` applied)."""
        text, _ = target
        if text == "in" and stride is None and self.chance(0.2):
            return (
                [(0, self.r.choice(["identity", "bn", "relu"]))]
                if st.cexpr == "in"
                else [(0, self.chan_layer(ctx, st, target)[0])]
            )
        if text == "in" and stride is not None and st.cexpr == "in" and self.chance(0.2):
            return [(0, f"{self.r.choice(['maxpool', 'avgpool'])} 3x3 stride={stride}")]
        return [(0, self.chan_layer(ctx, st, target, stride)[0])]

    def seq(self, ctx: Ctx, st: St, n: int, *, lets: bool = True) -> tuple[list, St]:
        """`n` statements of a body."""
        lines: list = []
        for _ in range(n):
            new, st = self.statement(ctx, st, lets=lets)
            lines += new
        return lines, st

    def branch_body(
        self, ctx: Ctx, d_in: int, target: tuple[str, int] | None, stride: str | None
    ) -> tuple[list, St]:
        """One branch (inside add/concat/split): one statement, or `branch:` with several."""
        inner = ctx.child(d_in, keep_hw=True)
        st = St(d_in)
        if self.chance(0.6):  # a single statement
            if target is None and stride is None:
                if self.chance(0.3):
                    call = self.call(inner, st, keep_hw=True)
                    if call is not None:
                        return [(0, call[0])], call[1]
                line, st2 = self.layer(inner, st)
                return [(0, line)], st2
            t = target or self.ch_expr(inner)
            line, st2 = self.chan_layer(inner, st, t, stride)
            if target is None and stride is not None and self.chance(0.3):
                line, st2 = f"{self.r.choice(['maxpool', 'avgpool'])} 3x3 stride={stride}", st
            return [(0, line)], st2
        body, st2 = self.seq(inner, st, self.r.randint(1, 2))
        t = target or (self.ch_expr(inner) if self.chance(0.5) else None)
        if t is not None or stride is not None:
            body += self.final_to(inner, st2, t or ("in", d_in), stride)
            st2 = replace(st2, d=t[1] if t is not None else d_in)
        return [(0, "branch:"), *[(i + 1, s) for i, s in body]], st2

    def composite(self, ctx: Ctx, st: St) -> tuple[list, St]:
        r = self.r
        kind = r.choices(["residual", "add", "concat", "split", "rep"], [4, 2, 2, 2, 1])[0]
        stride = None
        if not ctx.keep_hw and self.chance(0.25):
            stride = self.stride_expr(ctx)
        nb = r.randint(2, 3)
        lines: list = []
        if kind == "residual":
            inner = ctx.child(st.d, keep_hw=True)
            keep = self.chance(0.7)
            # chosen before the body: a shortcut does not see the lets of the body
            target = ("in", st.d) if keep else self.ch_expr(inner, need=1)
            body, st2 = self.seq(inner, St(st.d), r.randint(0, 2))
            body += self.final_to(inner, st2, target, stride)
            if self.bad("structure"):
                stride, keep = "2", True  # the shortcut will not match
            if not keep or stride is not None or self.chance(0.2):
                sc = f"conv 1x1 out={target[0]}" if not keep or self.chance(0.5) else "identity"
                if stride is not None and sc != "identity":
                    sc += f" stride={stride}"
                elif stride is not None:
                    sc = f"avgpool 3x3 stride={stride}"
                sc = sc + (" bn" if self.chance(0.6) and sc != "identity" else "")
                tops = [
                    i
                    for i, (depth, text) in enumerate(body)
                    if depth == 0 and not text.startswith(("elif ", "else:"))  # not inside an if
                ] + [len(body)]
                pos = r.choice(tops) if target[0] == "in" else len(body)
                body[pos:pos] = [(0, "shortcut:"), (1, sc)]
            if self.bad("structure"):
                body.append((0, r.choice(["branch:", "shortcut:", "shortcut:"])))
                body.append((1, "relu"))
            lines = [(0, "residual:"), *[(i + 1, s) for i, s in body]]
            d = st.d if keep else target[1]
            cexpr = st.cexpr if keep else None
        elif kind == "add":
            target = ("in", st.d) if self.chance(0.6) else self.ch_expr(ctx.child(st.d), need=1)
            if self.bad("structure"):
                target = None
            body = []
            for _ in range(nb):
                b, _ = self.branch_body(ctx, st.d, target, stride)
                body += b
            lines = [(0, "add:"), *[(i + 1, s) for i, s in body]]
            keep = target is not None and target[0] == "in"
            d = target[1] if target else 1
            cexpr = st.cexpr if keep else None
        elif kind == "rep":
            lines, d, cexpr = self.rep(ctx, st, stride, nb)
        else:
            sizes = None
            d_parts = [st.d] * nb
            ce = st.cexpr if st.cexpr and re.fullmatch(r"\w+", st.cexpr) else f"({st.cexpr})"
            if kind == "split":
                if st.d % nb and not self.bad("divisibility"):
                    nb = next((k for k in (2, 3, 4) if st.d % k == 0), nb)
                    if st.d % nb:
                        kind = "concat"
                if st.cexpr is None:
                    d_parts = [max(1, st.d // nb)] * nb
                elif st.d % 4 == 0 and self.chance(0.3):
                    sizes, d_parts = f"[{ce}/4, {ce}*3/4]", [st.d // 4, st.d * 3 // 4]
                    nb = 2
                elif st.d >= 32 and self.chance(0.2):
                    sizes, d_parts = f"[16, {ce} - 16]", [16, math.gcd(st.d, 16)]
                    nb = 2
                elif st.d % 2 == 0 and self.chance(0.15):
                    sizes, d_parts, nb = f"[{ce}/2, {ce}//2]", [st.d // 2] * 2, 2
                else:
                    d_parts = [max(1, st.d // nb)] * nb
                if self.bad("structure"):
                    sizes = r.choice(["[8]", "[8, 8, 8]", "[0, in]", "[in, in]", "[-1, 1]"])
            body = []
            ds = []
            for i in range(nb):
                b, st2 = self.branch_body(ctx, d_parts[i], None, stride)
                body += b
                ds.append(st2.d)
            if self.bad("structure"):
                body.append((0, r.choice(["let z = 16", "shortcut:"])))
            head = f"split sizes={sizes}:" if sizes else f"{kind}:"

            lines = [(0, head), *[(i + 1, s) for i, s in body]]
            d = math.gcd(*ds) or 1
            cexpr = None
        if self.bad("structure"):
            lines[0] = (0, lines[0][1][:-1] + r.choice([" x 2:", "(1):", ""]))
        return lines, replace(st, d=d, cexpr=cexpr, layers=st.layers + 12)

    def rep(self, ctx: Ctx, st: St, stride: str | None, nb: int) -> tuple[list, int, str | None]:
        """A `rep:`: conv (+ bn) branches of one stride and group count, a bn or the
        identity where the shapes allow; a dilated conv or another layer as a mistake."""
        r = self.r
        keep = stride is None and self.chance(0.6)
        target = ("in", st.d) if keep else self.ch_expr(ctx.child(st.d), need=1)
        depthwise = keep and self.chance(0.4)
        body: list = []
        for i in range(nb):
            pick = r.choice(["3x3", "1x1", "5x5", "bn", "identity"] if keep else ["3x3", "1x1"])
            if i == 0 and pick in ("bn", "identity"):
                pick = "3x3"
            if pick in ("bn", "identity"):
                body.append((0, pick))
                continue
            line = f"dwconv {pick}" if depthwise else f"conv {pick} out={target[0]}"
            if stride is not None:
                line += f" stride={stride}"
            body.append((0, line + (" bn" if self.chance(0.8) else "")))
        if self.bad("structure"):
            body.append((0, r.choice(["conv 3x3 dilation=2", "relu", "conv 2x2", "gap"])))
        lines = [(0, "rep:"), *[(i + 1, t) for i, t in body]]
        return lines, target[1], (st.cexpr if keep else None)

    # ---- statements -----------------------------------------------------------------------

    def statement(self, ctx: Ctx, st: St, *, lets: bool = True) -> tuple[list, St]:
        r = self.r
        nest = ctx.depth < 3
        kind = r.choices(
            ["layer", "call", "composite", "let", "if", "for", "assert"],
            [10, 3 if ctx.in_block is None else 5, 3 if nest else 0, 1, nest, nest, 0.3],
        )[0]
        if kind == "composite":
            return self.composite(ctx, st)
        if kind == "if":
            return self.if_stmt(ctx, st)
        if kind == "for":
            return self.for_stmt(ctx, st)
        if kind == "assert" and ctx.d_in is not None:
            return [(0, self.assert_stmt(ctx))], st
        if kind == "call":
            got = self.call(ctx, st, keep_hw=ctx.keep_hw)
            if got is not None:
                return [(0, self.named(ctx, got[0]))], got[1]
        if kind == "let" and lets and ctx.d_in is not None:
            name = self.fresh(r.choice(["half", "wide", "mid", "ch", "tmp"]))
            while name in ctx.names and name not in RESERVED:
                name = self.fresh(name)
            text, d = self.ch_expr(ctx)
            ctx.names[name] = Sym(name, "ch", None, d)
            if self.bad("structure"):
                name = self.r.choice([s.name for s in ctx.names.values()])
            return [(0, f"let {name} = {text}")], st
        line, st = self.layer(ctx, st)
        return [(0, self.named(ctx, line))], st

    def named(self, ctx: Ctx, line: str) -> str:
        """Sometimes `line` with `as NAME` (never with `x N`, nor in a loop, but by mistake)."""
        r = self.r
        if self.bad("reserved"):
            return f"{line} as {r.choice(['forward', 'to', 'layers', 'print', 'relu', 'in'])}"
        if ctx.loop and self.bad("structure"):
            return f"{line} as {self.fresh('again')}"  # the loop names it twice
        if ctx.loop or " x " in line or not self.chance(0.05):
            return line
        return (
            f"{line} as {self.fresh(r.choice(['proj', 'stem_conv', 'head_', 'tail', 'cell_a']))}"
        )

    def merge(self, states: list[St]) -> St:
        """What is known after one of `states`, not knowing which."""
        first = states[0]
        return replace(
            first,
            d=math.gcd(*(x.d for x in states)) or 1,
            cexpr=first.cexpr if all(x.cexpr == first.cexpr for x in states) else None,
            one=all(x.one for x in states),
            layers=max(x.layers for x in states),
            keeps_hw=all(x.keeps_hw for x in states),
        )

    def test_expr(self, ctx: Ctx) -> str:
        """A condition for `if` and `assert`: comparisons, and/or/not, known names."""
        r = self.r
        if self.bad("types"):
            return r.choice(["[1] < 2", "{1: 2} < 3", "true < [1]"])
        if self.bad("names"):
            return r.choice(["foo > 1", "chanels == 16", "len(3) > 1"])
        opts = ["true", "false", "not false", "1 < 2 <= 3", "len([1, 2]) == 2"]
        if ctx.d_in is not None:
            opts += ["in >= 16", "in % 2 == 0", "0 < in <= 4096", "in > 8 and in < 10000"]
            opts += ["in < 8 or in > 64", f"in % {ctx.d_in} == 0", "not in == 3"]
        for sym in ctx.names.values():
            if sym.role in ("g", "s", "t", "n", "classes", "ch", "ratio", "idx"):
                opts += [f"{sym.name} > 1", f"{sym.name} == 2 or {sym.name} >= 4"]
                if isinstance(sym.value, (int, float)) and not isinstance(sym.value, bool):
                    opts += [f"{sym.name} == {sym.value}", f"{sym.name} != {sym.value}"]
            elif sym.role == "flag":
                opts += [sym.name, f"not {sym.name}"]
        return r.choice(opts)

    def if_stmt(self, ctx: Ctx, st: St) -> tuple[list, St]:
        """`if` / `elif` / `else`, each branch a short sequence (without lets: a branch that
        does not run would leave them undefined)."""
        r = self.r
        # a branch may not run: what it defines (loop variables) is not known after it
        inner = replace(ctx.same_scope(), names=dict(ctx.names))
        lines: list = []
        states = []
        for i in range(r.choice([1, 1, 2, 3])):
            body, st2 = self.seq(inner, st, r.randint(1, 2), lets=False)
            lines += [(0, f"{'elif' if i else 'if'} {self.test_expr(ctx)}:")]
            lines += [(depth + 1, text) for depth, text in body]
            states.append(st2)
        if self.chance(0.5):
            body, st2 = self.seq(inner, st, r.randint(1, 2), lets=False)
            lines += [(0, "else:"), *[(depth + 1, text) for depth, text in body]]
            states.append(st2)
        else:
            states.append(st)  # no branch runs
        if self.bad("syntax"):
            lines.insert(0, (0, "else:"))  # an else without its if
        return lines, self.merge(states)

    def for_stmt(self, ctx: Ctx, st: St) -> tuple[list, St]:
        """A `for` loop over a range, a list, rows (unpacked) or enumerate(...); its variables
        stay defined after it."""
        r = self.r
        form = r.choice(["range", "list", "rows", "enumerate"])
        chans = sorted(r.sample(ROLE_VALUES["ch"], r.randint(1, 3)))
        if form == "range":
            i = self.fresh("i")
            ns = [s.name for s in self.names_of(ctx, "n")]
            head = f"for {i} in range({r.choice(['1', '2', '3', *ns])}):"
            ctx.names[i] = Sym(i, "idx")
        elif form == "list":
            c = self.fresh("c_")
            head = f"for {c} in {chans}:"
            ctx.names[c] = Sym(c, "ch", None, math.gcd(*chans))
        elif form == "rows":
            t, c = self.fresh("t_"), self.fresh("c_")
            rows = [[r.choice([1, 2]), ch] for ch in chans]
            head = f"for {t}, {c} in {rows}:"
            ctx.names[t] = Sym(t, "t")
            ctx.names[c] = Sym(c, "ch", None, math.gcd(*chans))
        else:
            i, c = self.fresh("i"), self.fresh("c_")
            head = f"for {i}, {c} in enumerate({chans}):"
            ctx.names[i] = Sym(i, "idx")
            ctx.names[c] = Sym(c, "ch", None, math.gcd(*chans))
        if self.bad("structure"):
            head = r.choice([f"for a_, b_ in {chans}:", "for i_ in 3:", head[:-1]])
        body, st2 = self.seq(ctx.same_scope(loop=True), st, r.randint(1, 2), lets=False)
        return [(0, head), *[(depth + 1, text) for depth, text in body]], self.merge([st, st2])

    def assert_stmt(self, ctx: Ctx) -> str:
        r = self.r
        if self.bad("structure"):
            test = r.choice(["in < 0", "false", "in % 7 == 5", "1 > 2"])
        else:
            test = r.choice(["in > 0", f"in % {ctx.d_in} == 0", "true", "len([in]) == 1"])
        message = r.choice(["", ', "the channels must fit"', ', "a rule of this family"'])
        return f"assert {test}{message}"

    # ---- the program ----------------------------------------------------------------------

    def header(self) -> list[str]:
        r = self.r
        name = r.choice(["net", "tiny", "fuzz", "model", "shufflenet_like", "x", "in"])
        params = []
        roles = r.sample(list(ROLE_VALUES), r.randint(0, 5))
        if self.chance(0.7) and "ch" not in roles:
            roles.insert(0, "ch")
        for role in roles:
            pname = self.fresh(r.choice(STEMS[role]))
            value = r.choice(ROLE_VALUES[role])
            text = str(value)
            if role == "ch" and self.chance(0.2) and self.globals:
                prev = r.choice(list(self.globals.values()))
                if prev.role == "t":
                    value, text = value * prev.value, f"{value}*{prev.name}"
            d = value if isinstance(value, int) else 1
            domain = ""
            if isinstance(value, int) and not isinstance(value, bool) and self.chance(0.2):
                # a search domain (issue 9); as a mistake, one that leaves the default out
                domain = r.choice(
                    [f"choice({value}, {2 * value})", f"range({value}, {value + 9})",
                     f"range(1, {4 * value + 1}, step=1)"]
                ) if not self.bad("structure") else r.choice(
                    [f"choice({value + 1})", "range(0)", "uniform(2, 1)", "choice()"]
                )  # fmt: skip
                domain = f": {domain} "
            params.append(f"{pname}{domain}={text}" if not self.bad("types") else pname)
            self.globals[pname] = Sym(pname, role, value, d)
        if self.chance(0.2):
            ws = sorted(r.sample(ROLE_VALUES["ch"], 3))
            pname = self.fresh(r.choice(STEMS["widths"]))
            params.append(f"{pname}={ws}")
            self.globals[pname] = Sym(pname, "widths", ws)
        if self.chance(0.15):
            tab = {g: 16 * g * r.choice([1, 2]) for g in ROLE_VALUES["g"]}
            pname = self.fresh(r.choice(STEMS["tab"]))
            params.append(f"{pname}={{{', '.join(f'{k}: {v}' for k, v in tab.items())}}}")
            self.globals[pname] = Sym(pname, "tab", tab)
        if self.bad("structure") and params:
            params.append(params[0])  # duplicate parameter
        return [
            (
                f"network {name}({', '.join(params)})"
                if params or self.chance(0.5)
                else f"network {name}"
            )
        ]

    def input_decl(self) -> tuple[str, int]:
        r = self.r
        c = r.choice([3, 3, 16, 32, 8, 1, 24, 64])
        h = r.choice([1, 2, 4, 7, 8, 8, 12, 16, 16, 32])
        w = h if self.chance(0.8) else r.choice([4, 8, 9, 16])
        if self.bad("huge"):
            return r.choice(["input 3x70000x70000", "input 2000000x1x1", "input 0x8x8"]), 1
        if self.bad("syntax"):
            return r.choice(["input 3x8", "input 3 x 8", "input (3, 8, 8)"]), 1
        chs = [s for s in self.globals.values() if s.role == "ch"]
        if chs and self.chance(0.2):
            s = r.choice(chs)
            return f"input {s.name} x {h} x ({w}*1)", s.d
        return f"input {c}x{h}x{w}", c

    def top_lets(self) -> list[str]:
        r = self.r
        out = []
        ctx = Ctx(self.globals, None)
        for _ in range(r.randint(0, 3)):
            name = self.fresh(r.choice(["mid", "ch", "stem_c", "head", "c1", "c2"]))
            role = r.choice(["ch", "ch", "k", "n"])
            if role == "ch":
                text, d = self.ch_expr(ctx)
                sym = Sym(name, "ch", None, d)
            elif role == "k":
                text = r.choice(["3x3", "5x5", "[3, 3]", "3"])
                sym = Sym(name, "k", None)
            else:
                ns = [s for s in self.globals.values() if s.role == "n"]
                text = f"{ns[0].name} + 1" if ns else "2"
                sym = Sym(name, "n", None)
            self.globals[name] = sym
            out.append(f"let {name} = {text}")
        if self.chance(0.2):  # a rule about the parameters (false, as a mistake)
            test = self.test_expr(ctx) if self.bad("structure") else "true"
            known = [s for s in self.globals.values() if isinstance(s.value, int) and s.value > 0]
            if known and test == "true":
                s = r.choice(known)
                test = r.choice(
                    [f"{s.name} > 0", f"{s.name} == {s.value}", f"0 < {s.name} <= 4096"]
                )
            out.append(f'assert {test}, "{r.choice(["the parameters must fit", "a rule"])}"')
        if self.chance(0.1):  # a search budget (issue 9): false ones are not mistakes
            test = r.choice(
                ["macs <= 1e9", "params > 0 and layers >= 1", "flops == 2 * macs",
                 "activations >= peak_activations", "macs < 1"]
            ) if not self.bad("names") else r.choice(["nope > 1", "params(1) > 0"])  # fmt: skip
            out.append(f"constraint {test}" + r.choice(["", ', "the budget"']))
            if r.random() < 0.5:  # a search's default objective (issue 22)
                term = r.choice(["params", "macs / 1e6", "layers", "peak_activations * 4"])
                if self.bad("names"):
                    term = r.choice(["nope", "[params]"])
                out.append(f"objective {r.choice(['minimize', 'maximize'])} {term}")
        if self.chance(0.15):  # a list comprehension
            name = self.fresh("widths_")
            ws = sorted(r.sample(ROLE_VALUES["ch"], 3))
            # a slice of all three items: the same list, and the generator writes slices
            out.append(f"let {name} = [w_ * 2 for w_ in {[w // 2 for w in ws]}[:3]]")
            self.globals[name] = Sym(name, "widths", ws)
        return out

    def block(self, index: int, name: str, names: list[str]) -> list:
        r = self.r
        d_req = r.choice([16, 16, 16, 8, 32, 1, 4])
        params: list[tuple[str, str, str | None]] = []
        local: dict[str, Sym] = dict(self.globals)
        seen_default = False
        for role in r.sample(["ch", "s", "g", "k", "t", "n", "p", "flag"], r.randint(0, 3)):
            pname = r.choice(STEMS[role])
            if any(p[0] == pname for p in params):
                continue
            default = None
            if seen_default or self.chance(0.6):
                if role == "ch" and self.chance(0.4):
                    default = r.choice(["in", "in*2", "2*in"]) if d_req % 16 == 0 else "16"
                else:
                    default = str(r.choice(ROLE_VALUES[role]))
                seen_default = True
            d = 16 if role == "ch" else 1
            params.append((pname, role, default))
            local[pname] = Sym(pname, role, None, d)
        info = BlockInfo(name, params, d_req)
        ctx = Ctx(local, d_req, 0, info)
        st = St(d_req)
        lines: list = []
        n = r.randint(1, max(1, min(6, self.size // 2 + 1)))
        for i in range(n):
            if self.recursion and self.recursion[0] == index and i == n // 2:
                lines.append((0, self.recursion[1]))
            new, st = self.statement(ctx, st)
            lines += new
        info.d_out = st.d
        info.keeps_in = st.cexpr == "in"
        info.keeps_hw = st.keeps_hw and not any("stride" in s or "pool" in s for _, s in lines)
        info.one = st.one
        info.layers = max(1, st.layers)
        self.blocks.append(info)
        sig = ", ".join(p if d is None else f"{p}={d}" for p, _, d in params)
        if self.bad("structure") and params:
            sig = ", ".join(f"{p}={d}" if d else p for p, _, d in reversed(params))
        head = f"block {name}({sig}):" if params or self.chance(0.3) else f"block {name}:"
        return [(0, head), *[(i + 1, s) for i, s in lines]]

    def program(self) -> str:
        r = self.r
        out: list[tuple[int, str]] = [(0, s) for s in self.header()]
        inp, c = self.input_decl()
        out.append((0, inp))
        lets = self.top_lets()
        nblocks = r.randint(0, min(6, 1 + self.size // 3))
        names = [self.fresh(r.choice(BLOCK_STEMS)) for _ in range(nblocks)]
        rec = None
        if nblocks and self.chance(self.m.recursive):
            i = r.randrange(nblocks)
            rec = (i, r.randrange(i, nblocks))
            self.recursion = (i, names[rec[1]])  # block i calls itself or a later block...
        blocks = [self.block(i, name, names) for i, name in enumerate(names)]
        if rec is not None and rec[0] != rec[1]:
            blocks[rec[1]].append((1, names[rec[0]]))  # ...which calls block i back
        defs = [[(0, s)] for s in lets] + blocks
        if self.chance(0.2):  # blocks between the lets (which stay in order)
            order = sorted(
                range(len(defs)), key=lambda i: (r.random(), i) if i >= len(lets) else (i / 9, i)
            )
            defs = [defs[i] for i in order]
        for d in defs:
            out += d
        if self.bad("structure") and blocks:
            out += r.choice(blocks)  # defined twice
        out.append((0, "layers:"))
        ctx = Ctx(dict(self.globals), c, 0, None)
        st = St(c)
        body: list = []
        if c % 8 or self.chance(0.5):
            line, st = self.chan_layer(ctx, st, self.ch_expr(ctx, need=16))
            body.append((0, line))
        n = r.randint(1, max(1, self.size))
        lines, st = self.seq(ctx, st, n)
        body += lines
        if self.chance(0.6):
            if not st.one:
                body.append((0, r.choice(["gap", "gmp", "gdc", "flatten", "gap", "dropout 0.2"])))
                st = replace(st, one=not body[-1][1].startswith("dropout"))
            if st.one or self.bad("structure"):
                cls = self.names_of(ctx, "classes")
                body.append((0, f"fc {cls[0].name if cls else r.choice([10, 1000, 2])}"))
        out += [(i + 1, s) for i, s in body]
        return self.render(out)

    def render(self, lines: list[tuple[int, str]]) -> str:
        r = self.r
        unit = r.choice([4, 4, 4, 2, 3, 8])
        text = []
        for depth, s in lines:
            if self.chance(0.03):
                s += r.choice(["  # comment", "   # x 3: not a repeat", "# in"])
            text.append(" " * (unit * depth) + s)
            if self.chance(0.02):
                text.append(r.choice(["", "# a comment", "      # indented comment", "   "]))
        if self.chance(self.m.indent) and len(text) > 3:
            i = r.randrange(2, len(text))
            text[i] = (
                r.choice(["\t", " ", "  " * 3, ""]) + text[i].lstrip(" ") if text[i] else "\t"
            )
        if self.chance(0.05):
            text.insert(0, "# " + r.choice(["generated", "fuzz", "ünïcode ☃"]))
        sep = "\r\n" if self.chance(0.05) else "\n"
        body = sep.join(text) + (sep if self.chance(0.95) else "")
        return ("\ufeff" if self.chance(0.02) else "") + body


def generate(rng: random.Random, size: int, mistakes: Mistakes | None = None) -> str:
    """A random .conv program of about `size` statements, drawn from `rng` only."""
    return _Gen(rng, size, mistakes or Mistakes()).program()


def program(seed: int, max_size: int = 16, mistakes: Mistakes | None = None) -> str:
    """The program of `seed`: its size (1..`max_size` statements) is drawn from the seed too."""
    rng = random.Random(seed)
    return generate(rng, rng.randint(1, max_size), mistakes)


# ---- the properties --------------------------------------------------------------------------


class PropertyFailure(AssertionError):
    """The compiler broke its contract on one program."""


@dataclass
class Outcome:
    network: object | None  # the Network, or None after a SpecError
    error: specgen.SpecError | None
    seconds: float  # wall-clock time of the compile (costs and shapes included)
    codes: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # its CPU time


def source_lines(text: str) -> list[str]:
    """The lines of `text` as a diagnostic numbers them (BOM dropped; CRLF and CR end lines)."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def check_diagnostic(d, lines: list[str], filename: str, rendered: str) -> None:
    """`d` has a message, a place inside the program and, rendered, a caret under that place."""
    if not (isinstance(d.message, str) and d.message.strip()):
        raise PropertyFailure(f"empty message in {d!r}")
    sp = d.span
    if sp.line <= 0:
        if d.code == "more":  # "N more mistakes not shown" belongs to no line
            return
        raise PropertyFailure(f"[{d.code}] {d.message!r} has no place in the program")
    if sp.line > len(lines):
        raise PropertyFailure(f"{d.message!r} at line {sp.line} of a {len(lines)}-line program")
    text = lines[sp.line - 1]
    if not 1 <= sp.column <= len(text) + 1:
        raise PropertyFailure(f"{d.message!r} at {sp}, outside line {sp.line}: {text!r}")
    if (sp.end_line, sp.end_column) < (sp.line, sp.column) or sp.end_line > len(lines):
        raise PropertyFailure(f"{d.message!r}: span {sp} ends before it starts or past the end")
    if sp.end_line == sp.line and sp.end_column > len(text) + 2:  # +2: the end of the line
        raise PropertyFailure(f"{d.message!r}: span {sp} runs past line {sp.line}: {text!r}")
    for frame in d.chain:
        if not (1 <= frame.span.line <= len(lines) and frame.span.column >= 1):
            raise PropertyFailure(f"{d.message!r}: call site {frame.span} is not in the program")
    own = d.render(_SourceView(lines, filename)).split("\n")
    head = f"{filename}:{sp.line}:{sp.column}: error: {d.message}"
    if own[0] != head:
        raise PropertyFailure(f"rendered as {own[0]!r}, expected {head!r}")
    if text:
        number = str(sp.line)
        shown = text.replace("\t", " ")
        if len(own) < 3 or own[1] != f" {number} | {shown}":
            raise PropertyFailure(f"{head}: source line not shown: {own[1:2]}")
        caret = re.fullmatch(rf" {' ' * len(number)} \| ( *)(\^+)", own[2])
        if caret is None or len(caret.group(1)) != sp.column - 1:
            raise PropertyFailure(f"{head}: no caret under column {sp.column}: {own[2]!r}")
    if "\n".join(own) not in rendered:
        raise PropertyFailure(f"{head}: missing from str(err)")


@dataclass(frozen=True)
class _SourceView:
    """What `Diagnostic.render` reads from a Source, built from our own line split (so a
    renderer that numbered lines differently from us would show the wrong line)."""

    lines: list[str]
    filename: str

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""


def check(text: str, time_limit: float = 2.0) -> Outcome:
    """Compile `text`: it must give a Network whose costs and shapes compute, or a SpecError
    whose every diagnostic has a place in the program and renders a caret under it, within
    `time_limit` seconds of CPU time (this thread's: neither other load on the machine nor
    the worker threads torch and TensorFlow keep spinning after earlier tests count).  Any other exception propagates; a broken contract raises
    PropertyFailure."""
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        net, err = specgen.compile(text), None
    except specgen.SpecError as exc:
        net, err = None, exc
    if err is not None:
        seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
        if not err.diagnostics:
            raise PropertyFailure("SpecError without diagnostics")
        first = err.diagnostics[0].span
        if (err.line, err.column) != (first.line, first.column):
            raise PropertyFailure("SpecError.line/column differ from its first diagnostic")
        rendered = str(err)
        lines = source_lines(text)
        for d in err.diagnostics:
            check_diagnostic(d, lines, err.filename, rendered)
        outcome = Outcome(None, err, seconds, list(err.codes))
    else:
        rows = net.cost.layers
        net.cost.blocks  # noqa: B018 - computed on demand
        shapes = net.shapes
        seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
        if not isinstance(net, specgen.Network):
            raise PropertyFailure(f"compile returned {type(net).__name__}")
        if not (net.cost.params >= 0 and net.cost.macs >= 0):
            raise PropertyFailure(f"negative cost: {net.cost.params}, {net.cost.macs}")
        if net.cost.flops != 2 * net.cost.macs:
            raise PropertyFailure(f"flops {net.cost.flops} != 2 x macs {net.cost.macs}")
        if sum(r.params for r in rows) != net.cost.params:
            raise PropertyFailure("the layer rows do not add up to the total params")
        if rows and not shapes:
            raise PropertyFailure("layers but no shapes")
        outcome = Outcome(net, None, seconds)
    outcome.cpu_seconds = cpu
    if outcome.cpu_seconds > time_limit:
        raise PropertyFailure(
            f"compile took {outcome.cpu_seconds:.2f} s of CPU time (limit {time_limit} s)"
        )
    return outcome


def small_enough(net, max_layers: int = 200, max_macs: int = 20_000_000) -> bool:
    """Whether `net` is cheap to build and run in PyTorch."""
    return (
        len(net.cost.layers) <= max_layers
        and net.cost.macs <= max_macs
        and net.cost.params <= 5_000_000
        and net.input_shape.numel <= 100_000
    )


def _shape_matches(tensor, shape) -> bool:
    """The compiler's C×H×W; a C×1×1 map after fc or flatten is a 2-D (N, C) tensor."""
    if tensor.dim() == 2:
        return shape.h == shape.w == 1 and tensor.shape[1] == shape.c
    return tuple(tensor.shape[1:]) == (shape.c, shape.h, shape.w)


def check_torch(net) -> None:
    """Build `net` in PyTorch (`net.to_torch()`) and run it once: `parameters()` must sum to
    the compiler's params, FlopCounterMode's total to 2 × its MACs, and the output and every
    block's output (forward hooks) must have the compiler's shapes."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = net.to_torch().eval()
    x = torch.randn(1, *net.input_shape.as_list())
    seen: dict[str, object] = {}
    hooks = []
    for row in net.cost.blocks:
        module = model.get_submodule(row.name)
        hooks.append(module.register_forward_hook(lambda m, i, o, n=row.name: seen.update({n: o})))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
    params = sum(p.numel() for p in model.parameters())
    if params != net.cost.params:
        raise PropertyFailure(
            f"torch has {params} parameters, the compiler says {net.cost.params}"
        )
    if counter.get_total_flops() != 2 * net.cost.macs:
        raise PropertyFailure(
            f"FlopCounterMode counts {counter.get_total_flops()} FLOPs, "
            f"the compiler says {net.cost.macs} MACs"
        )
    if not _shape_matches(y, net.output_shape):
        raise PropertyFailure(
            f"torch output {tuple(y.shape)}, the compiler says {net.output_shape}"
        )
    for row in net.cost.blocks:
        if row.name not in seen or not _shape_matches(seen[row.name], row.output):
            got = tuple(seen[row.name].shape) if row.name in seen else None
            raise PropertyFailure(f"torch {row.name} gives {got}, the compiler says {row.output}")


def variant(text: str, tag: object) -> str:
    """`text` with a comment line appended: the same program, but a text the compiler has not
    parsed or expanded before (its caches are keyed by the text)."""
    sep = "\r\n" if "\r\n" in text else "\n"
    return text + ("" if text.endswith(("\n", "\r")) else sep) + f"# variant {tag}{sep}"


def _emit(net, target: str) -> str:
    """The source, or for what the target refuses (Keras: a conv with both a stride and a
    dilation above 1) the located error, which must be as deterministic."""
    try:
        return net.emit(target)
    except specgen.SpecError as e:
        return f"SpecError: {e}"


def emitted(text: str) -> dict[str, str]:
    """The torch and keras source of `text`."""
    net = specgen.compile(text)
    return {target: _emit(net, target) for target in ("torch", "keras")}


def check_emit(net, text: str) -> dict[str, str]:
    """Emit both targets twice from `net`, and from a fresh compile of the same program (a
    variant of its text): the source must not change.  Returns the source by target."""
    first = {target: _emit(net, target) for target in ("torch", "keras")}
    for target, code in emitted(variant(text, "check_emit")).items():
        if code != first[target]:
            raise PropertyFailure(f"{target} source differs between two compiles")
        if _emit(net, target) != code:
            raise PropertyFailure(f"{target} source differs between two emits")
    return first


def standalone(text: str, block) -> str:
    """`text` with its input replaced by `block`'s input shape and its layers by one call of
    the block with the argument values it was called with: by the language, a block's body
    sees only the globals, its parameters and `in`, so this program computes the same
    expansion whatever the context of the original call."""
    lines = source_lines(text)
    top = next(i for i, s in enumerate(lines) if re.match(r"layers:", s))
    head = [
        (
            f"input {block.in_shape.c}x{block.in_shape.h}x{block.in_shape.w}"
            if re.match(r"input\b", s)
            else s
        )
        for s in lines[:top]
    ]
    args = ", ".join(f"{k}={format_value(v)}" for k, v in block.args)
    return "\n".join([*head, "layers:", f"    {block.name}({args})", ""])


def _subtree(net, path: str) -> tuple[dict, int, int]:
    """Shapes below `path` (relative to it), and the params and MACs of its layers."""
    shapes = {
        k[len(path) :]: v for k, v in net.shapes.items() if k == path or k.startswith(path + ".")
    }
    rows = [r for r in net.cost.layers if r.name.startswith(path + ".")]
    return shapes, sum(r.params for r in rows), sum(r.macs for r in rows)


def check_blocks(net, text: str, time_limit: float = 2.0) -> int:
    """Every block call in `net` expands exactly as the same call does on its own
    (`standalone`): the same shapes for every layer inside it, the same params and MACs.
    Returns the number of distinct calls compared."""
    from specgen.ir import Block
    from specgen.passes.cost import walk

    expected: dict[tuple, tuple] = {}
    for path, node in walk(net.ir.body):
        if not isinstance(node, Block) or node.in_shape.flat:
            continue  # (after flatten or fc the input is (N, C): no `input` line writes that)
        key = (node.name, format_value(tuple(v for _, v in node.args)), node.in_shape)
        if key not in expected:
            alone = standalone(text, node)
            try:
                other = check(alone, time_limit).network
            except PropertyFailure as exc:
                raise PropertyFailure(f"{exc} (standalone call of {path})\n{alone}") from exc
            if other is None:
                raise PropertyFailure(
                    f"{path} compiled in the program but not on its own:\n{alone}"
                )
            expected[key] = (alone, _subtree(other, f"{node.name}1"))
        alone, want = expected[key]
        got = _subtree(net, path)
        if got != want:
            raise PropertyFailure(
                f"block call {path} ({node.name}, input {node.in_shape}) expands differently "
                f"from the same call on its own:\n{_diff(got, want)}\non its own:\n{alone}"
            )
    return len(expected)


def _diff(got: tuple, want: tuple) -> str:
    shapes, params, macs = got
    wshapes, wparams, wmacs = want
    out = [
        f"  {k or '(the call)'}: {shapes.get(k)} here, {wshapes.get(k)} alone"
        for k in sorted(set(shapes) | set(wshapes))
        if shapes.get(k) != wshapes.get(k)
    ]
    if (params, macs) != (wparams, wmacs):
        out.append(f"  params, MACs: {params}, {macs} here, {wparams}, {wmacs} alone")
    return "\n".join(out[:8])


def in_threads(fn, jobs: list) -> list:
    """`fn` over `jobs` in 4 threads, with the GIL switching threads very often, so that
    races between compiles show."""
    from concurrent.futures import ThreadPoolExecutor

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(fn, jobs))
    finally:
        sys.setswitchinterval(interval)
