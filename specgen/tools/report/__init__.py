"""Cost reports: the network as a tree of layers, block calls and composites (`tree`),
rendered for people (an aligned table, coloured with `rich` on a terminal; a GitHub markdown
table: `table`) and for programs (JSON, CSV: `data`); `formats` picks one.  docs/cost.md
describes every format.

    from specgen.report import cost_tree, render, rows, to_dict
"""

from .data import (
    BYTES_FP32,
    CSV_FIELDS,
    FORMULA_STARTS,
    SCHEMA,
    csv_text,
    to_csv,
    to_dict,
    to_json,
)
from .formats import COLORS, FORMATS, render, terminal_width, use_color
from .table import HEADER, to_markdown, to_table
from .tree import CostNode, cost_tree, opened, rows, tree_depth

__all__ = [
    "BYTES_FP32",
    "COLORS",
    "CSV_FIELDS",
    "FORMATS",
    "FORMULA_STARTS",
    "HEADER",
    "SCHEMA",
    "CostNode",
    "cost_tree",
    "csv_text",
    "opened",
    "render",
    "rows",
    "terminal_width",
    "to_csv",
    "to_dict",
    "to_json",
    "to_markdown",
    "to_table",
    "tree_depth",
    "use_color",
]
