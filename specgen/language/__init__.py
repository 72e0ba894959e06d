"""Stage 1, the language: a `.conv` text read (`source`), parsed into the syntax tree
(`parse`, `syntax`), its imports resolved (`imports`), its expressions evaluated (`expr`) and
its search domains read (`domains`) and their points enumerated or drawn (`points`); `words` holds the language's own reserved words.
"""
