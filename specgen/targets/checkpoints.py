"""Loading a checkpoint by key into a generated PyTorch model.

A spec that names its modules as an existing model does (`as "layer{s + 1}.*"`) has that
model's state_dict keys, so its weights load with `model.load_state_dict(sd, strict=True)`.
Checkpoints often carry the keys under a wrapper's prefix: `module.` (DataParallel and
DistributedDataParallel), `_orig_mod.` (torch.compile), `model.` or `net.` (training
frameworks), or nest the state_dict in a dict (`{"state_dict": ...}`, `{"model": ...}`).
`load_checkpoint` takes those off, then loads strictly, and says what did not match.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# prefixes that wrappers put before every key, taken off while every key has one
PREFIXES = ("module.", "_orig_mod.", "model.", "net.")
# keys under which training scripts nest the state_dict
NESTED = ("state_dict", "model_state_dict", "model", "net")


class CheckpointError(ValueError):
    """The checkpoint's keys or shapes do not match the model's."""


def unwrap(checkpoint: Mapping[str, Any], prefixes: tuple[str, ...] = PREFIXES) -> dict:
    """The state_dict inside `checkpoint`: a nested one taken out, and each prefix in
    `prefixes` taken off while every key starts with it (`module.model.` goes too)."""
    state = checkpoint
    for key in NESTED:
        inner = state.get(key) if isinstance(state, Mapping) else None
        if isinstance(inner, Mapping) and inner and not _is_tensor(state.get(key)):
            state = inner
            break
    if not isinstance(state, Mapping):
        raise CheckpointError(f"a checkpoint is a mapping of names to tensors, not {type(state)}")
    state = dict(state)
    changed = True
    while changed and state:
        changed = False
        for prefix in prefixes:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                changed = True
    return state


def load_checkpoint(
    model: Any,
    checkpoint: Mapping[str, Any] | str | os.PathLike,
    *,
    strict: bool = True,
    prefixes: tuple[str, ...] = PREFIXES,
) -> Any:
    """Load `checkpoint` (a state_dict, a dict holding one, or a file saved with
    `torch.save`) into `model` by key, after `unwrap`.  With `strict`, any key missing or
    left over, or any shape that differs, raises CheckpointError naming them; otherwise
    returns `load_state_dict`'s missing and unexpected keys."""
    import torch

    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = unwrap(checkpoint, prefixes)
    own = model.state_dict()
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected or shapes):
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shapes", shapes)):
            if keys:
                shown = ", ".join(keys[:5]) + (
                    f", … ({len(keys)} in all)" if len(keys) > 5 else ""
                )
                parts.append(f"{what}: {shown}")
        raise CheckpointError(
            "the checkpoint does not match the model by key; " + "; ".join(parts)
        )
    if shapes:
        raise CheckpointError("shapes differ: " + "; ".join(shapes[:5]))
    return model.load_state_dict(state, strict=strict)


def _is_tensor(value: Any) -> bool:
    return type(value).__name__ in ("Tensor", "Parameter")
