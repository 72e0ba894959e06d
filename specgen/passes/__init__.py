"""Stage 4, passes over the elaborated IR, each a pure function of it: `validate` (channel
arithmetic and shape agreement), `cost` (params, MACs, activations), `constraints` (the
spec's `constraint` lines) and `fold` (the deploy form: BatchNorms folded)."""
