"""What every emitter shares: safe names, the Jinja2 environment, black, doc summaries.

Only names that passed the grammar's identifier rule and the reserved-word checks, and numbers,
reach generated code; `class_names` still guarantees unique, keyword-safe class names.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from dataclasses import dataclass
from typing import Any

import black
import jinja2

from .. import __version__, ir
from ..parse import resource_dir
from ..values import format_value

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,100}$")


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


BLACK_MODE = black.Mode()  # black's defaults, so the output passes `black --check` anywhere


def format_code(code: str) -> str:
    return black.format_str(code, mode=BLACK_MODE)


def camel(name: str) -> str:
    """`bottleneck_res` -> `BottleneckRes`."""
    parts = [p for p in name.split("_") if p]
    return "".join(p[0].upper() + p[1:] for p in parts) or "Block"


def class_names(keys: list[tuple[str, Any]], reserved: set[str]) -> dict[Any, str]:
    """One class name per distinct instantiation key: `Unit` when a block has one
    instantiation, `Unit1`, `Unit2`, ... when it has several; never a reserved word."""
    per_block: dict[str, list[Any]] = {}
    for block, key in keys:
        bucket = per_block.setdefault(block, [])
        if key not in bucket:
            bucket.append(key)
    used = set(reserved)
    names: dict[Any, str] = {}
    for block, bucket in per_block.items():
        base = camel(block)
        for i, key in enumerate(bucket, 1):
            name = base if len(bucket) == 1 else f"{base}{i}"
            while name in used or keyword.iskeyword(name) or hasattr(builtins, name):
                name += "_"
            used.add(name)
            names[key] = name
    return names


def instance_key(node: ir.Block) -> tuple:
    """Instantiations with the same block, argument values and input shape are identical."""
    return (node.name, format_value(tuple(v for _, v in node.args)), node.in_shape)


def call_text(name: str, args: tuple[tuple[str, Any], ...]) -> str:
    return f"{name}({', '.join(f'{k}={format_value(v)}' for k, v in args)})"


@dataclass(frozen=True)
class DocInfo:
    title: str
    version: str
    source: str
    input: str
    output: str
    params: str
    macs: str
    flat: bool


def doc_info(net: Any) -> DocInfo:
    """The summary every generated file opens with."""
    filename = net.source.filename.replace("\\", "/").rsplit("/", 1)[-1]
    source = filename if _SAFE_FILENAME.match(filename) and not filename.startswith("<") else ""
    out = net.output_shape
    return DocInfo(
        title=f"{call_text(net.name, net.ir.params)}: {net.input_shape} -> {out}.",
        version=__version__,
        source=source,
        input=str(net.input_shape),
        output=str(out),
        params=f"{net.cost.params:,}",
        macs=f"{net.cost.macs:,}",
        flat=out.h == 1 and out.w == 1,
    )
