"""One way to time a call: the median of many runs after a warm-up.

The live path's budget (a few ms per face) is judged by this figure everywhere: the bench
command, the model card and the choice of the variant Live runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_ms(function: Callable[[], object], repeats: int) -> float:
    function()  # warm-up: first calls trace graphs and allocate
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)
