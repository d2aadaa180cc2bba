"""Timing, memory and report code shared by the subcommands of
``tools/analysis/benchmark.py`` (their implementations are in ``tools/dev/benchmark/``).

Every figure a benchmark prints is taken here the same way: wall time with
``time.perf_counter`` around a synchronised device, peak memory as the CUDA allocator's
maximum on a GPU and the process's peak resident set (``ru_maxrss``) on the CPU, and the
result written as one JSON object.
"""
import json
import platform
import resource
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import torch


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (nothing to wait for on the CPU).

    Args:
        device (torch.device): The device.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def wall_times(fn: Callable[[], object], repeats: int, warmup: int = 0) -> List[float]:
    """Seconds of each of ``repeats`` calls of ``fn``, after ``warmup`` untimed calls.

    Args:
        fn (callable): What to time; it synchronises the device itself if it must.
        repeats (int): Timed calls.
        warmup (int): Untimed calls first. Defaults to 0.

    Returns:
        list[float]: One wall time per timed call.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` calls after one warm-up call (the least disturbed run).

    Args:
        fn (callable): What to time.
        repeats (int): Timed calls.

    Returns:
        float: Seconds.
    """
    return min(wall_times(fn, repeats, warmup=1))


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (no warm-up).

    Args:
        fn (callable): What to time.
        repeats (int): Timed calls.

    Returns:
        float: Seconds.
    """
    return statistics.median(wall_times(fn, repeats))


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak for :func:`peak_memory` on a GPU (the CPU's peak resident set
    cannot be reset: it covers the whole process).

    Args:
        device (torch.device): The device.
    """
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def peak_rss_mib() -> float:
    """Peak resident set of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == 'darwin' else peak / 2**10


def peak_memory(device: torch.device) -> Dict[str, Optional[float]]:
    """Peak memory since :func:`reset_peak_memory`, in the units a report prints.

    Args:
        device (torch.device): The device.

    Returns:
        dict: ``peak_mem_gib`` and ``peak_reserved_gib`` (CUDA allocator; None on the CPU)
        and ``peak_rss_mib`` (the process, always).
    """
    found: Dict[str, Optional[float]] = dict(peak_mem_gib=None, peak_reserved_gib=None,
                                             peak_rss_mib=peak_rss_mib())
    if device.type == 'cuda':
        found['peak_mem_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
        found['peak_reserved_gib'] = torch.cuda.max_memory_reserved(device) / 2**30
    return found


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's as the platform reports it.

    Args:
        device (torch.device): The device.

    Returns:
        str: The name.
    """
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def write_result(result: Any, report: str, json_path: Optional[str] = None) -> None:
    """Print the readable report and, when asked, write the result as JSON.

    Args:
        result: The figures (JSON-serialisable).
        report (str): The lines to print.
        json_path (str, optional): Where the JSON goes.
    """
    print(report, flush=True)
    if json_path:
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=1)
