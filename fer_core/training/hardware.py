"""What the machine a run trains on can do, read from ``/proc`` without loading TensorFlow: the
training loop warns and logs with it, and the Train page offers float32 where bf16 would crawl."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the NVIDIA driver sees
NO_BFLOAT16_UNITS = ("This CPU has no bfloat16 units (no AVX512-BF16 or AMX): bf16 is emulated here, "
                     "about ten times slower than float32.")


def bfloat16_units(cpuinfo: Path = CPUINFO) -> bool | None:
    """Whether this Linux CPU computes bfloat16 in hardware (an avx512_bf16 or amx_bf16 flag);
    None where /proc/cpuinfo says nothing (not Linux, unreadable), rather than a guess."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16"}) if "flags" in flags else None


def cpu_lacks_bfloat16(cpuinfo: Path = CPUINFO) -> bool:
    """True on a CPU known to have no bfloat16 units, where Keras' bf16 is emulated: a vgg batch
    took 15 s instead of 1.36 s in float32 on one such machine here."""
    return bfloat16_units(cpuinfo) is False


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name, for the log: a CPU-hour on an AVX2 EPYC trains about a quarter of the
    epochs one on a Xeon with AMX does (vgg_wide: ~930 CPU-s an epoch in float32 against ~250 in
    bf16), so a route's curve across sittings must say where each ran."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "an unknown CPU"


def nvidia_gpu_visible(gpus: Path = NVIDIA_GPUS, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether an NVIDIA GPU is there for TensorFlow, asked of the driver because asking TensorFlow
    loads it (~1.5 s and its memory in the Streamlit server). ``CUDA_VISIBLE_DEVICES`` empty or -1
    hides every GPU from TensorFlow, so then there is none."""
    if environ.get("CUDA_VISIBLE_DEVICES", "0").strip() in ("", "-1"):
        return False
    try:
        return any(gpus.iterdir())
    except OSError:
        return False


def bfloat16_emulated() -> bool:
    """A bf16 run here would crawl: the CPU emulates bf16 and no GPU would take the work instead."""
    return cpu_lacks_bfloat16() and not nvidia_gpu_visible()
