"""Layers that leave the values' shape alone and cost nothing: `dropout p` and `droppath p`
(active in training only) and `identity`."""

from __future__ import annotations

from typing import Any

from .. import ir
from ..language import syntax as S
from ..values import format_value
from .args import REQUIRED, ArgSpec, OpSpec
from .kind import Builder, LayerKind

DROPOUT = OpSpec(
    "dropout",
    (ArgSpec("p", "float", 0.5, 0, 0.999999, "drop probability"),),
    ("p",),
    "dropout (no cost)",
    trailing=True,
)
DROPPATH = OpSpec(
    "droppath",
    (ArgSpec("p", "float", REQUIRED, 0, 0.999999, "drop probability, per sample"),),
    ("p",),
    "stochastic depth: drops whole samples (no cost)",
    trailing=True,
)
IDENTITY = OpSpec("identity", (), (), "passes its input through")


def build_dropout(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.Dropout:
    return ir.Dropout(head, shape, shape, v["p"])


def build_droppath(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.DropPath:
    return ir.DropPath(head, shape, shape, v["p"])


def build_identity(
    b: Builder, op: str, head: S.Head, v: dict[str, Any], shape: ir.Shape
) -> ir.Identity:
    return ir.Identity(head, shape, shape)


def label_dropout(node: ir.Dropout) -> str:
    return f"dropout {format_value(node.p)}"


def label_droppath(node: ir.DropPath) -> str:
    return f"droppath {format_value(node.p)}"


DROPOUT_KIND = LayerKind(ir.Dropout, (DROPOUT,), build_dropout, label=label_dropout)
DROPPATH_KIND = LayerKind(ir.DropPath, (DROPPATH,), build_droppath, label=label_droppath)
IDENTITY_KIND = LayerKind(ir.Identity, (IDENTITY,), build_identity)
