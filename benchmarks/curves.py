"""Reading FID-against-time curves of benchmark runs: a value at a time, the time to reach a
target, the value at a step, and the mean (min-max) over seeds that every comparison prints.

A curve is a list of rows in training order, each with "minutes", "step" and "fid" (and any
other logged value)."""

from __future__ import annotations

import statistics


def value_at(curve: list[dict], minutes: float, key: str = "fid") -> float | None:
    """`key` of the last evaluation at or before `minutes` (+10%: an evaluation falls due at
    the first step boundary after its minute, later when the machine is busy)."""
    before = [r for r in curve if r["minutes"] <= minutes * 1.1]
    return before[-1][key] if before else None


def minutes_to_reach(curve: list[dict], target: float) -> float | None:
    """First training time at which a curve's FID is <= target, interpolated between points."""
    previous = None
    for row in curve:
        if row["fid"] <= target:
            if previous is None:
                return row["minutes"]
            m0, f0, m1, f1 = previous["minutes"], previous["fid"], row["minutes"], row["fid"]
            return m0 + (m1 - m0) * (f0 - target) / (f0 - f1)
        previous = row
    return None


def fid_at_step(curve: list[dict], step: int) -> float | None:
    """A curve's FID at `step`, interpolated between the evaluations around it."""
    for before, after in zip(curve, curve[1:], strict=False):
        if before["step"] <= step <= after["step"]:
            share = (step - before["step"]) / (after["step"] - before["step"])
            return before["fid"] + share * (after["fid"] - before["fid"])
    return None


def spread(values: list[float]) -> str:
    """Mean and range of values over seeds ("-" when none)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{statistics.mean(values):.1f} ({min(values):.1f}–{max(values):.1f})"
