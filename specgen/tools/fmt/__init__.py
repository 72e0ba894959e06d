"""`specgen fmt`: the one canonical layout of a `.conv` file, every comment kept.

The formatter works from the parse, not from the text: a second Lark parser, built from the
same grammar file, keeps what the compile path throws away (the positions of every node,
parenthesised expressions, and the comments, collected from the `_NL` tokens by a lexer
callback), so the compiler's parser and its speed are untouched.  The file is first parsed by
`specgen.language.parse`, so a file that does not parse fails with the compiler's own located
`SpecError`.

Layout (docs/language.md, "Formatting"): 4-space indentation; one space around binary
operators, except in the `k=v` arguments of a layer line, where an arithmetic value is written
tight (`out=in/4`) so that it reads as one word; `k=v` without spaces, `name: domain =
default` for a searched parameter; at most one blank line, exactly one around `block` and
before `layers:`; a bracket (call, list, table, comprehension, parameters) that does not fit in
99 columns, that holds a comment or ends with a trailing comma is written one item per line
with a trailing comma; trailing comments of consecutive lines are aligned two spaces after the
longest line.  The output parses to the same tree (the same token sequence), and formatting it
again changes nothing.

The concerns live in modules of their own: `parser` (the parser that keeps comments),
`comments` (where each comment goes), `document` (documents and their printer),
`expressions` and `statements` (the layout), and `command` (`specgen fmt` itself).
"""

from .command import fmt_command
from .statements import format_source

__all__ = ["fmt_command", "format_source"]
