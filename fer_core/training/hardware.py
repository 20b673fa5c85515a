"""What the CPU a run trains on can do, read from ``/proc/cpuinfo`` without loading TensorFlow:
the training loop warns and logs with it, and the Train page offers float32 where bf16 would crawl."""

from __future__ import annotations

import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_lacks_bfloat16(cpuinfo: Path = CPUINFO) -> bool:
    """True on a Linux CPU without bfloat16 units (no avx512_bf16 or amx_bf16 flag), where Keras' bf16
    is emulated: a vgg batch took 15 s instead of 1.36 s in float32 on one such machine here."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False  # not Linux, or unreadable: say nothing rather than guess
    return "flags" in flags and not flags & {"avx512_bf16", "amx_bf16"}


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
