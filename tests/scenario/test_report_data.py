"""Failure reports show long data by its runs or its ends and length, in time and memory
linear in the data (issue 11: 64 MiB of expected data took 5 GB and 20 s)."""

from __future__ import annotations

import tracemalloc

from biopair.endpoints.config import pattern_bytes
from biopair.scenario.runner import show_data


def _peak(fn: object, *args: object) -> tuple[str, int]:
    tracemalloc.start()
    try:
        out = fn(*args)  # type: ignore[operator]
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_long_runs_are_measured_without_a_per_byte_copy() -> None:
    data = b"a" * (8 << 20) + b"b" * 5
    shown, peak = _peak(show_data, data)
    assert shown == "'a' * 8388608 + 'bbbbb'"
    # Before: a run list built byte by byte and an 8 MiB str (hundreds of MB).
    assert peak < 1 << 20, peak


def test_long_irregular_data_is_shown_by_its_ends_and_length() -> None:
    data = pattern_bytes(8 << 20)
    shown, peak = _peak(show_data, data)
    assert shown.startswith("'abcdefghijklmnopqrstuvwx' ... ")
    assert shown.endswith("(8388608 bytes)")
    assert peak < 1 << 20, peak


def test_text_is_shortened_the_same_way() -> None:
    assert show_data("x" * 1000) == "'x' * 1000"
    assert show_data("hello") == "'hello'"
    assert show_data(memoryview(b"ab" * 100)).endswith("(200 bytes)")


def test_short_data_reads_as_before() -> None:
    assert show_data(b"") == "''"
    assert show_data(b"abc" + b"\x00" * 9 + b"z") == "'abc' + '\\x00' * 9 + 'z'"
    assert show_data(b"a" * 7) == "'aaaaaaa'"
