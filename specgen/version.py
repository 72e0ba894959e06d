"""specgen's version, in a module of its own so that any stage can name it (the generated
files' headers, `--version`) without importing the package's public face."""

__version__ = "0.1.0"
