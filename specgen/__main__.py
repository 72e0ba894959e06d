"""`python -m specgen`: the command line (Ctrl-C while it starts exits 130, see specgen.tools.cli)."""

from .tools.cli import main

raise SystemExit(main())
