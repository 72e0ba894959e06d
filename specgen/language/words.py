"""The language's own words besides the layers: the composites a statement can open and the
keywords of the grammar.  Reserved: no parameter, `let` or block may take these names.
"""

COMPOSITES = {
    "residual": "body(x) + shortcut(x); the shortcut is the identity unless a `shortcut:` is given",
    "add": "sum of branches that all see the input",
    "concat": "channel concatenation of branches that all see the input",
    "split": "split the channels into equal parts (or `sizes=[...]`), one per branch; concatenate",
    "rep": "a re-parameterisable sum (RepVGG, MobileOne): branches of conv + bn, bn or "
    "identity, summed in training and merged into one conv in the deploy form",
    "branch": "groups several statements into one branch of add, rep, concat or split",
    "shortcut": "the shortcut path of a residual",
}

KEYWORDS = {"network", "input", "let", "block", "layers", "x", "in", "true", "false"}
