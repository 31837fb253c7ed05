"""`l2r benchmark speed`'s arithmetic on a scripted clock (no timing of real work)."""

from __future__ import annotations

import itertools

from l2r_cli.benchmark import speed
from l2r_cli.benchmark.speed import Timing, _interleaved_medians


def test_interleaved_medians_on_a_scripted_clock(monkeypatch):
    # two parts, one warm-up call each, three rounds; the clock is read before and after each
    # timed call: part A takes 1, 5, 2 s, part B 10, 30, 20 s -> medians 2 and 20
    durations = iter([1, 10, 5, 30, 2, 20])
    ticks = itertools.chain.from_iterable((0.0, float(d)) for d in durations)
    monkeypatch.setattr(speed.time, "perf_counter", lambda: next(ticks))
    calls = {"a": 0, "b": 0}

    def part(key):
        return lambda: calls.__setitem__(key, calls[key] + 1)

    assert _interleaved_medians([part("a"), part("b")], repeats=3, warmup=1) == [2.0, 20.0]
    assert calls == {"a": 4, "b": 4}  # one warm-up + three timed calls each


def test_images_per_second_by_hand():
    assert Timing("step", 0.25, 16).images_per_second == 64.0
