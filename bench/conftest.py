"""Benchmarks: pytest-benchmark suites, never run by `make test` (they live outside tests/).

Every workload reports GOP/s (2 operations per multiply-add) in `extra_info`, measured after a
warm-up call so that JIT compilation is excluded; the compile time is reported separately.
Run with `make bench`.
"""

import time

import pytest

_RESULTS: list[tuple[str, str, float, float]] = []


@pytest.fixture
def measure(benchmark):
    """Benchmark ``fn`` after one timed warm-up call; record GOP/s and the warm-up time."""

    def run(fn, ops: int, label: str):
        start = time.perf_counter()
        fn()
        warmup = time.perf_counter() - start
        benchmark.group = label
        result = benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
        median = benchmark.stats.stats.median
        benchmark.extra_info["GOP/s"] = round(ops / median / 1e9, 2)
        benchmark.extra_info["first call incl. JIT (s)"] = round(warmup, 3)
        _RESULTS.append((label, benchmark.name, median, ops / median / 1e9))
        return result

    return run


def pytest_terminal_summary(terminalreporter):
    """One table: GOP/s per workload, each beside the others measured in the same run."""
    if not _RESULTS:
        return
    terminalreporter.write_sep("-", "GOP/s (2 ops per multiply-add; median of 5 rounds)")
    for label, name, median, gops in sorted(_RESULTS):
        terminalreporter.write_line(f"{label:28s} {name:60s} {median * 1e3:10.3f} ms {gops:9.2f}")
