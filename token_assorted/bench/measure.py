"""Timing and peak memory of a block of work, and the statistics every figure of the bench is given with."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import threading
import time
from statistics import median
from typing import Iterable, Sequence

import torch

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 2**20


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:
        return 0


def release_free_memory() -> None:
    """Hand memory freed earlier back to the OS (glibc's malloc_trim), so that the block's own allocations show
    in the resident size instead of reusing pages the process already holds; nothing where glibc is absent."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _RssPeak(threading.Thread):
    """Samples the resident memory every few milliseconds: the CPU has no resettable peak counter."""

    def __init__(self, interval: float = 0.002):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stopped = interval, resident_bytes(), threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, resident_bytes())
            time.sleep(self.interval)


@contextlib.contextmanager
def measured(device: torch.device):
    """Yields a dict that holds, after the block: seconds, and peak_mb, the most memory the block added
    (CUDA: allocated tensors; CPU: resident memory, sampled) above what was in use when it began."""
    figures: dict[str, float] = {}
    # The objects alive before the block (models, splits) stay out of its garbage collections, as in a process of
    # its own: a collection through the bench's heap could double the time of a short measured block.
    gc.collect()
    gc.freeze()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start_bytes = torch.cuda.memory_allocated(device)
    else:
        release_free_memory()
        sampler = _RssPeak()
        start_bytes = sampler.peak
        sampler.start()
    start = time.perf_counter()
    try:
        yield figures
    finally:
        gc.unfreeze()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            peak = torch.cuda.max_memory_allocated(device)
        else:
            sampler.stopped.set()
            sampler.join()
            peak = max(sampler.peak, resident_bytes())
        figures["seconds"] = time.perf_counter() - start
        figures["peak_mb"] = max(0.0, peak - start_bytes) / MB


def spread(values: Iterable[float | None]) -> dict[str, float | None]:
    """Median, min and max of the repeats (None where a repeat had no figure, e.g. nothing solved)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {"median": median(values), "min": min(values), "max": max(values), "runs": len(values)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def fit_exponent(sizes: Sequence[float], values: Sequence[float | None]) -> float | None:
    """b in value ~ size^b: the least-squares slope of log(value) against log(size)."""
    points = [(math.log(s), math.log(v)) for s, v in zip(sizes, values) if v is not None and v > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else None
