"""The cost report for programs: JSON (`to_dict`, `to_json`) and CSV (`to_csv`).

JSON schema `specgen.cost/2` (docs/cost.md): network, parameters, input [C, H, W], output,
params, macs, flops, memory {...}, layers [...], blocks [...], tree [...].  The `tree` key and
the per-row fields `path`, `depth`, `label`, `input`, `macs_share`, `kernel`, `stride`,
`dilation`, `groups` and `args` were added without changing any existing key, and so were
`memory.traffic_bytes` and each row's `traffic_bytes`, and with a latency table the top-level
`latency_ms` and `latency` and each row's `latency_ms` (and `fused_into`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ...compiler import Network
from ...passes.latency import Prediction
from ...values import Table, format_value
from .tree import CostNode, cost_tree, every_node, opened, pair, rows, share

SCHEMA = "specgen.cost/2"
BYTES_FP32 = 4

CSV_FIELDS = (
    "path",
    "depth",
    "name",
    "kind",
    "op",
    "label",
    "kernel",
    "stride",
    "dilation",
    "groups",
    "input",
    "output",
    "params",
    "macs",
    "macs_share",
    "activations",
    "traffic_bytes",
    "dense_ratio",
)


# ---- JSON ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Table):
        return {format_value(k): _plain(v) for k, v in value.items}
    return value


def _fields(n: CostNode, total_macs: int) -> dict[str, Any]:
    """The fields every row gained with the tree: where it sits and what its op reads."""
    item: dict[str, Any] = {
        "path": n.path,
        "depth": n.depth,
        "label": n.label,
        "input": n.input.as_list(),
    }
    item.update((k, _plain(v)) for k, v in n.attrs)
    if n.args:
        item["args"] = {k: _plain(v) for k, v in n.args}
    item["macs_share"] = share(n.macs, total_macs)
    item["traffic_bytes"] = n.traffic
    if n.latency_ms is not None:
        item["latency_ms"] = n.latency_ms
        if n.fused is not None:
            item["fused_into"] = n.fused
    return item


def _row(n: CostNode, total_macs: int, **extra: Any) -> dict[str, Any]:
    """One `layers`/`blocks` entry: the schema's original keys first, then the new ones."""
    item = {
        "name": n.name,
        "op": n.op,
        "output": n.output.as_list(),
        "params": n.params,
        "macs": n.macs,
        **extra,
    }
    if n.dense_ratio is not None:
        item["dense_ratio"] = n.dense_ratio
    item.update(_fields(n, total_macs))
    return item


def _tree_dict(n: CostNode, total_macs: int, depth: int | None) -> dict[str, Any]:
    item = {
        "name": n.name,
        "kind": n.kind,
        "op": n.op,
        "output": n.output.as_list(),
        "params": n.params,
        "macs": n.macs,
        "activations": n.activations,
    }
    if n.dense_ratio is not None:
        item["dense_ratio"] = n.dense_ratio
    item.update(_fields(n, total_macs))
    if n.children:
        if opened(n, depth):
            item["children"] = [_tree_dict(c, total_macs, depth) for c in n.children]
        else:
            item["folded"] = True
    return item


def to_dict(
    net: Network, depth: int | None = None, latency: Prediction | None = None
) -> dict[str, Any]:
    """The JSON report; `depth` folds `tree` only (`layers` and `blocks` are always whole);
    with a latency prediction, `latency_ms` on the top and on every row, and `latency`."""
    c = net.cost
    tree = cost_tree(net, latency)
    every = list(every_node(tree))
    layers = [_row(n, c.macs, activations=n.activations) for n in every if n.kind == "layer"]
    blocks = [_row(n, c.macs) for n in every if n.kind == "block"]
    report = {
        "schema": SCHEMA,
        "network": net.name,
        "parameters": {k: _plain(v) for k, v in net.params.items()},
        "input": net.input_shape.as_list(),
        "output": net.output_shape.as_list(),
        "params": c.params,
        "macs": c.macs,
        "flops": c.flops,
        "memory": {
            "params_bytes": c.params * BYTES_FP32,
            "activations": c.activations,
            "activation_bytes": c.activations * BYTES_FP32,
            "peak_activations": c.peak_activations,
            "peak_activation_bytes": c.peak_activations * BYTES_FP32,
            "traffic_bytes": c.traffic,
        },
        "layers": layers,
        "blocks": blocks,
        "tree": [_tree_dict(n, c.macs, depth) for n in tree] if depth != 0 else [],
    }
    if latency is not None:
        report["latency_ms"] = latency.total_ms
        report["latency"] = {
            "table": latency.table,
            "run": latency.run,
            "call_ms": latency.call_ms,
            "scale": latency.scale,
        }
    return report


def to_json(net: Network, depth: int | None = None, latency: Prediction | None = None) -> str:
    """`to_dict` as indented JSON text, what `specgen cost --format json` prints."""
    return json.dumps(to_dict(net, depth, latency), indent=2) + "\n"


# ---- CSV -------------------------------------------------------------------------------------

# A spreadsheet evaluates a cell that starts with one of these (=, +, -, @, and tab or carriage
# return, which some strip first): OWASP's CSV-injection rule is to start such a text cell
# with a single quote, which the spreadsheet shows as text and does not display.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """A text cell made inert for spreadsheets (`=cmd()` → `'=cmd()`); numbers are written
    as numbers and never pass through here."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(net: Network, depth: int | None = None, latency: Prediction | None = None) -> str:
    """One row per node shown at `depth` (header first, no total row: the depth-1 rows add up
    to it); pairs and shapes are written `3x3` and `24x56x56`; with a latency prediction, a
    last column `latency_ms` (0 for a layer fused into the one before)."""
    total = net.cost.macs
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS + (("latency_ms",) if latency is not None else ()))
    for n in rows(cost_tree(net, latency), depth):
        attrs = dict(n.attrs)
        pairs = {k: pair(attrs[k]) if k in attrs else "" for k in ("kernel", "stride")}
        writer.writerow(
            [
                csv_text(n.path),
                n.depth,
                csv_text(n.name),
                csv_text(n.kind),
                csv_text(n.op),
                csv_text(n.label),
                pairs["kernel"],
                pairs["stride"],
                pair(attrs["dilation"]) if "dilation" in attrs else "",
                attrs.get("groups", ""),
                csv_text(str(n.input)),
                csv_text(str(n.output)),
                n.params,
                n.macs,
                repr(share(n.macs, total)),
                n.activations,
                n.traffic,
                "" if n.dense_ratio is None else repr(n.dense_ratio),
                *(() if latency is None else (repr(n.latency_ms),)),
            ]
        )
    return buf.getvalue()
