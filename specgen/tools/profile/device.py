"""The device a latency table was measured on: what must match before two tables merge."""

from __future__ import annotations

import platform
from typing import Any


def processor() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_tag(device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """{device, processor, machine, threads, torch, onnxruntime, python, system}; on CUDA the
    GPU's name is the device."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = None
    name = "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA device is available")
        name = f"cuda: {torch.cuda.get_device_name(0)}"
    return {
        "device": name,
        "processor": processor(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": ort,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
