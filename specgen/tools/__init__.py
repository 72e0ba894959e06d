"""The tools built on the compiler: the command line (`cli`), the formatter (`fmt`), block
diagrams (`diagram`, rendered by `graph`), cost reports (`report`), architecture search
(`search`), the Pygments lexer (`highlight`) and safe file writing (`output`)."""
