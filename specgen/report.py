"""Cost reports for people (an aligned table) and for programs (JSON, schema below).

JSON schema `specgen.cost/2` (docs/cost.md): network, parameters, input [C, H, W], output,
params, macs, flops, memory {...}, layers [{name, op, output, params, macs, activations,
dense_ratio?}], blocks [{name, op, output, params, macs, dense_ratio?}].
"""

from __future__ import annotations

import json
from typing import Any

from .compiler import Network
from .values import Table, format_value

SCHEMA = "specgen.cost/2"
BYTES_FP32 = 4


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Table):
        return {format_value(k): _plain(v) for k, v in value.items}
    return value


def _row(row: Any, **extra: Any) -> dict[str, Any]:
    """One JSON row: name, op, output, params, macs, then `extra`, then dense_ratio if any."""
    item = {
        "name": row.name,
        "op": row.op,
        "output": row.output.as_list(),
        "params": row.params,
        "macs": row.macs,
        **extra,
    }
    if row.dense_ratio is not None:
        item["dense_ratio"] = row.dense_ratio
    return item


def to_dict(net: Network) -> dict[str, Any]:
    c = net.cost
    layers = [_row(r, activations=r.activations) for r in c.layers]
    blocks = [_row(r) for r in c.blocks]
    return {
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
        },
        "layers": layers,
        "blocks": blocks,
    }


def to_json(net: Network) -> str:
    return json.dumps(to_dict(net), indent=2) + "\n"


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def to_table(net: Network, blocks: bool = False) -> str:
    """An aligned text table: one row per layer (or per block with `blocks=True`), then totals."""
    c = net.cost
    rows = c.blocks if blocks else c.layers
    args = ", ".join(f"{k}={format_value(v)}" for k, v in net.params.items())
    header = ("block" if blocks else "layer", "op", "output", "params", "MACs", "vs dense")
    body = [
        (
            r.name,
            r.op,
            str(r.output),
            f"{r.params:,}",
            f"{r.macs:,}",
            "" if r.dense_ratio is None else f"{r.dense_ratio:.4f}",
        )
        for r in rows
    ]
    total = ("total", "", str(net.output_shape), f"{c.params:,}", f"{c.macs:,}", "")
    widths = [max(len(r[i]) for r in [header, *body, total]) for i in range(6)]

    def line(r: tuple[str, ...]) -> str:
        left = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2])]
        right = [r[3].rjust(widths[3]), r[4].rjust(widths[4]), r[5].rjust(widths[5])]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    out = [
        f"{net.name}({args})  input {net.input_shape}  output {net.output_shape}",
        "",
        line(header),
        rule,
        *(line(r) for r in body),
        rule,
        line(total),
        "",
        f"params {c.params:,} ({_mb(c.params * BYTES_FP32)} fp32)   MACs {c.macs:,}   "
        f"FLOPs {c.flops:,} (2·MACs)",
        f"activations {c.activations:,} ({_mb(c.activations * BYTES_FP32)} fp32, batch 1)   "
        f"peak layer in+out {c.peak_activations:,}",
    ]
    return "\n".join(out) + "\n"
