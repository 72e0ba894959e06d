"""The search's own errors: a search that cannot run as asked (the CLI's exit 2), and a
storage that cannot be opened."""

from __future__ import annotations


class SearchError(ValueError):
    """A search that cannot run as asked (the CLI's exit 2)."""


class StorageError(SearchError):
    """An Optuna storage URL that cannot be opened (wrong URL, driver, server down)."""
