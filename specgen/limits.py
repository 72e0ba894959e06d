"""Hard limits that keep hostile or runaway specs from hanging the compiler or exhausting memory.

Each one is reported as a SpecError naming the limit, never as a crash.  They are far above
what any real network needs (the largest published efficient CNNs have a few hundred layers).
"""

MAX_SOURCE_CHARS = 1_000_000  # characters in one spec
MAX_SOURCE_LINES = 20_000  # lines in one spec (parsing takes some 100 µs a line)
MAX_EXPR_DEPTH = 64  # nesting of one expression
MAX_NESTING = 24  # composites (residual:, concat:, ...) nested inside one another
MAX_CALL_DEPTH = 32  # block calls nested inside one another
MAX_REPEAT = 10_000  # the `x N` of one statement
MAX_LAYERS = 100_000  # layers after expanding every block and repeat
MAX_DIGITS = 18  # digits of one integer literal
MAX_INT = 2**53  # magnitude of any value an expression computes
MAX_EXPONENT = 64  # right operand of `**`
MAX_LIST = 10_000  # items in one list or table
MAX_CHANNELS = 1 << 20  # channels of any tensor
MAX_SPATIAL = 1 << 16  # height or width of any tensor
