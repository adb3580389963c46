"""The arithmetic every benchmark claim rests on: curves read at a time, intervals over seeds."""

import math

import pytest

from benchmarks.curves import value_at
from benchmarks.seeds import interval95, overlap

CURVE = [
    {"minutes": 1.7, "fid": 270.0},
    {"minutes": 3.3, "fid": 180.0},
    {"minutes": 10.0, "fid": 90.0},
]


def test_value_at_interpolates_between_evaluations():
    assert value_at(CURVE, 2.5) == pytest.approx(225.0)
    assert value_at(CURVE, 3.3) == pytest.approx(180.0)


def test_value_at_takes_the_last_evaluation_when_just_past_it_and_none_before_the_first():
    assert value_at(CURVE, 10.5) == 90.0
    assert value_at(CURVE, 12.0) is None
    assert value_at(CURVE, 1.0) is None
    assert value_at(CURVE, 1.6) == 270.0  # the first evaluation fell due a little late


def test_interval95_is_student_t_over_seeds():
    mean, half = interval95([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert math.isnan(interval95([5.0])[1])


def test_overlap_needs_both_intervals_apart_to_call_a_winner():
    assert not overlap([10.0, 10.5, 11.0], [20.0, 20.5, 21.0])
    assert overlap([10.0, 15.0, 20.0], [14.0, 16.0, 18.0])
    assert overlap([10.0], [20.0])  # one run is never a claim


def test_each_quality_section_gets_its_own_curve_image():
    from benchmarks.quality import SECTION, image_name

    assert image_name(SECTION) == "quality-fid-vs-time.png"  # the README links this one
    assert image_name("Quality: conditional, 3 seeds (2026-12-01)") == (
        "quality-conditional-3-seeds-2026-12-01.png"
    )


def test_plain_transfer_modes_drop_augmentation_and_are_compared_with_plain_training():
    from benchmarks.transfer import AUGMENT, mode_overrides, twin

    plain, augmented = mode_overrides("vision-aided-plain"), mode_overrides("vision-aided")
    assert 'transfer.mode="vision-aided"' in plain and AUGMENT not in plain
    assert 'transfer.mode="vision-aided"' in augmented and AUGMENT in augmented
    assert (twin("vision-aided-plain"), twin("vision-aided")) == ("none", "diffaugment")


def test_ada_transfer_modes_add_the_transfer_to_the_ada_baseline():
    from benchmarks.transfer import ADA, AUGMENT, mode_overrides, twin

    with_ada = mode_overrides("vision-aided-ada")
    assert twin("vision-aided-ada") == "ada"
    assert with_ada == [AUGMENT, ADA, *mode_overrides("vision-aided-plain")]


def test_the_transfer_baseline_is_the_best_recipe_without_transfer():
    from benchmarks.transfer import best_baseline

    def curve(mode, seed, fid):
        return [{"mode": mode, "seed": seed, "minutes": 10.0, "fid": fid}]

    rows = curve("none", 0, 72.0) + curve("none", 1, 74.0) + curve("diffaugment", 0, 110.0)
    rows += curve("vision-aided", 0, 50.0)  # a transfer mode is never the baseline
    assert best_baseline(rows, 10.0) == "none"
    assert best_baseline(curve("vision-aided", 0, 50.0), 10.0) is None


def test_the_transfer_docs_name_the_modes_and_seeds_that_ran_with_that_image_count():
    from benchmarks.transfer import modes_and_seeds

    rows = [
        {"images": 1000, "mode": "init-plain", "seed": 1},
        {"images": 1000, "mode": "none", "seed": 0},
        {"images": 1000, "mode": "none", "seed": 1},
        {"images": 200, "mode": "ada", "seed": 7},  # another scenario: not this section's
    ]
    assert modes_and_seeds(rows, 1000) == "--modes none init-plain --seeds 0 1"


def test_source_modes_start_from_the_source_and_count_its_minutes_in_the_total():
    from pathlib import Path

    from benchmarks.transfer import mode_overrides, summarise, twin

    assert mode_overrides("source-random", Path("s")) == [
        'transfer.source="s"',
        'transfer.class_start="random"',
    ]
    assert twin("source") == "none"

    def curve(mode, seed, fids):
        return [
            {"images": 1000, "mode": mode, "seed": seed, "minutes": float(m), "fid": f,
             "d_overfit_gap": 0.1}
            for m, f in zip((1, 10), fids, strict=True)
        ]  # fmt: skip

    rows = curve("none", 0, (200.0, 60.0)) + curve("source", 0, (60.0, 30.0))
    table = summarise(rows, 1000, 10.0, source_minutes=5.0)
    source_row = next(line for line in table if line.startswith("| `source`"))
    cells = [c.strip() for c in source_row.split("|")]
    assert cells[-3] == "1.0 (1 seed)" and cells[-2] == "6.0 (1 seed)"  # 1 min; 1 + 5 with it
