"""Hard limits that keep hostile or runaway specs from hanging the compiler or exhausting memory.

Each one is reported as a SpecError naming the limit, never as a crash.  They are far above
what any real network needs (the largest published efficient CNNs have a few hundred layers
and specs of a few kilobytes), and each is sized so that the work it bounds stays within a
few seconds on one core: docs/language.md § Limits gives the figures.
"""

# ---- the text ----------------------------------------------------------------------------
# Lark's LALR loop costs some 30-40 µs per token, and a dense spec has one token every 2-5
# characters, so these keep parsing under ~3 s.
MAX_SOURCE_CHARS = 100_000  # characters in one spec
MAX_SOURCE_BYTES = 4 * MAX_SOURCE_CHARS + 3  # UTF-8 bytes read at most (a BOM, 4 bytes a char)
MAX_SOURCE_LINES = 10_000  # lines in one spec
MAX_EXPR_DEPTH = 64  # nesting of one expression
MAX_NESTING = 24  # composites (residual:, concat:, ...) nested inside one another in one body

# ---- expansion ---------------------------------------------------------------------------
MAX_CALL_DEPTH = 32  # block calls nested inside one another
# block calls and composites nested along any path from `layers:` (every pass that walks the
# network recurses once per level, so this bounds their stack depth)
MAX_DEPTH = 64
MAX_REPEAT = 10_000  # the `x N` of one statement
MAX_LAYERS = 100_000  # layers after expanding every block and repeat
MAX_IMPORTS = 256  # files one spec imports, directly or not
# characters of all the files one spec imports, directly or not, as many as one spec may
# hold: parsing them all stays within ~2 s and ~11 MB, whatever their number (256 files of
# 100,000 characters each took 3.5 min and 2.9 GB)
MAX_IMPORTED_CHARS = 100_000

# ---- values ------------------------------------------------------------------------------
MAX_DIGITS = 18  # digits of one integer literal
MAX_INT = 2**53  # magnitude of any value an expression computes
MAX_EXPONENT = 64  # right operand of `**`
MAX_LIST = 10_000  # items in one list or table, nested items included (shared ones counted)
MAX_VALUE_DEPTH = 32  # lists and tables nested inside one another (parameters from Python)
# Evaluation steps of one compile, all work together: each expression evaluated costs its
# number of nodes, each iteration of a `for` or a comprehension one step more, each list or
# table built or walked one per item, and a block call or layer line found in a cache what
# evaluating it again would cost.  One budget, not one per loop or expression: those
# multiplied (a comprehension inside a `for` ran 100,000 x 100,000 iterations).  The costliest
# step takes about 1 us, so the budget bounds evaluation to ~1 s.
MAX_STEPS = 1_000_000

# ---- sizes the frameworks can hold ---------------------------------------------------------
MAX_CHANNELS = 1 << 20  # channels of any tensor
MAX_SPATIAL = 1 << 16  # height or width of any tensor; also bounds kernels, strides, padding
# TensorFlow and PyTorch index tensors with int64: no weight tensor, and no total, may exceed it
MAX_ELEMENTS = 2**63 - 1

# ---- memory ------------------------------------------------------------------------------
# above this many bytes of fp32 parameters, `check`, `cost` and `build` warn before anything
# is allocated; `to_torch()` / `to_keras()` refuse models that do not fit in available memory
LARGE_MODEL_BYTES = 2 * 2**30
# above this many bytes of fp32 activations that one forward at batch 1 needs at least (the
# largest input + output of any one layer), they warn too: a 3x65536x65536 input checked
# without a word, though the input alone is 48 GiB
LARGE_ACTIVATION_BYTES = 2 * 2**30
