"""Optuna storages: opening one by URL (SQLite waits, racing workers retry), and its password
kept out of every message."""

from __future__ import annotations

import re
import time
from typing import Any

from .errors import StorageError


def _storage(optuna: Any, url: str | None) -> Any:
    """An RDB storage for `url`.  SQLite waits for its lock instead of failing, and workers
    starting together may race to create the tables: the loser retries and finds them."""
    if url is None:
        return None
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    races = ("already exists", "UNIQUE constraint failed", "duplicate key")
    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as err:  # noqa: BLE001 - SQLAlchemy's and drivers' errors, by message
            if not any(r in str(err) for r in races) or attempt == 7:
                first = (
                    str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                )
                raise StorageError(
                    f"cannot open the storage {masked_url(url)}: {_mask_in(first, url)}"
                ) from err
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


# `scheme://user:PASSWORD@host` (SQLAlchemy's URL grammar: the password runs to the first @),
# and a `password=` query argument (libpq's)
_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/]*:)(?P<password>[^@]*)(?=@)")


# `scheme://user:secret` with the `@host` forgotten: SQLAlchemy reads a port, but it is a
# password in all likelihood (a port is digits)
_NO_HOST = re.compile(
    r"^(?P<head>[\w+.-]+://(?!\[)[^:/@]*:)(?P<password>(?=[^/?#@]*[^\d/?#@])[^/?#@]+)(?=[/?#]|$)"
)


_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def masked_url(url: str) -> str:
    """`url` with its password as `***`: a storage URL is shown in messages and logs, its
    password never."""
    url = _PASSWORD.sub(lambda m: m["head"] + "***" if m["password"] else m[0], url)
    url = _NO_HOST.sub(lambda m: m["head"] + "***", url)
    return _QUERY_PASSWORD.sub(lambda m: m["head"] + "***" if m["password"] else m[0], url)


def _mask_in(text: str, url: str) -> str:
    """`text` (a driver's message, which may quote the URL) without `url`'s password."""
    from urllib.parse import unquote

    text = text.replace(url, masked_url(url))
    for m in (*_PASSWORD.finditer(url), *_NO_HOST.finditer(url), *_QUERY_PASSWORD.finditer(url)):
        for secret in {m["password"], unquote(m["password"])}:
            if secret:  # where it stands alone: a password `o` leaves "connection" whole
                text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
    return text
