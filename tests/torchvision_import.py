"""Importing torchvision beside a CPU build of torch, shared by tests/test_layers_new.py and
bench/torchvision_bench.py (which bench/channels_last.py uses).

A torchvision wheel built against another torch build (the registry's is built against CUDA
torch) fails while registering its compiled operators' fake kernels; its Python model code
needs none of them, so the import is retried with `torch.library.register_fake` made a no-op.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import torch


def import_torchvision(name: str = "torchvision") -> ModuleType | None:
    """The module `name` (`torchvision.models`, `torchvision.ops`, ...), or None when
    torchvision is not installed or cannot be imported even so."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
    except Exception:  # noqa: BLE001 - the compiled operators of a mismatched wheel
        pass
    for loaded in [m for m in sys.modules if m.startswith("torchvision")]:
        del sys.modules[loaded]
    real = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001
        return None
    finally:
        torch.library.register_fake = real
