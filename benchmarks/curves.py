"""Reading FID-against-time curves of benchmark runs: a value at a time, the time to reach a
target, the value at a step, and the mean (min-max) over seeds that every comparison prints.

A curve is a list of rows in training order, each with "minutes", "step" and "fid" (and any
other logged value)."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path


def read_metrics(run_dir: Path) -> list[dict]:
    """A run's metrics.jsonl records in order: what every benchmark reads its figures from."""
    with open(Path(run_dir) / "metrics.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def value_at(curve: list[dict], minutes: float, key: str = "fid") -> float | None:
    """`key` at `minutes`, interpolated between the evaluations around it; the last evaluation
    when `minutes` is past it by at most 10% (an evaluation falls due at the first step boundary
    after its minute, later on a busy machine); None before the first evaluation. Interpolating,
    not taking the last evaluation before, keeps a table's "@ 2 min" honest when the evaluations
    fall at 1.7 and 3.3 minutes."""
    for before, after in zip(curve, curve[1:], strict=False):
        if before["minutes"] <= minutes <= after["minutes"]:
            if before[key] is None or after[key] is None:
                return None
            share = (minutes - before["minutes"]) / (after["minutes"] - before["minutes"])
            return before[key] + share * (after[key] - before[key])
    if curve and curve[-1]["minutes"] <= minutes <= curve[-1]["minutes"] * 1.1:
        return curve[-1][key]
    if curve and minutes * 1.1 >= curve[0]["minutes"] > minutes:  # first one just late
        return curve[0][key]
    return None


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


def spread(values: list[float], scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
    """Mean and range of values over seeds ("-" when none), each times `scale` with `digits`
    decimals and `unit` after the mean: spread([0.862, 0.858], 100, 2, "%") is
    "86.00% (85.80–86.20)"."""
    if not values:
        return "-"
    mean, low, high = (scale * v for v in (statistics.mean(values), min(values), max(values)))
    if len(values) == 1:
        return f"{mean:.{digits}f}{unit} (1 seed)"
    return f"{mean:.{digits}f}{unit} ({low:.{digits}f}–{high:.{digits}f})"


def read_rows(
    path: Path, ints: tuple[str, ...], floats: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict]:
    """A benchmark's accumulated CSV rows with their numbers typed back (`optional` floats may be
    empty, read as None); no file yet is no rows."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ints:
            row[key] = int(row[key])
        for key in floats:
            row[key] = float(row[key])
        for key in optional:
            row[key] = float(row[key]) if row[key] else None
    return rows


def write_rows(path: Path, rows: list[dict], fields: list[str]) -> None:
    """Rewrite a benchmark's CSV with every row so far (after each run, so a stop loses none)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
