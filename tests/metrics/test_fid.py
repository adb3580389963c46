import numpy as np
import pytest
import scipy.linalg
import torch

from knowgen.metrics.fid import compute_fid, compute_kid


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Independent reference: the textbook formula with scipy's matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_library_fid_matches_scipy_on_a_small_case():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 0.3
    ours = compute_fid(torch.from_numpy(a), torch.from_numpy(b))
    assert ours == pytest.approx(scipy_fid(a, b), rel=1e-6)


def test_identical_sets_give_zero_and_a_shift_gives_its_squared_norm():
    features = torch.randn(2000, 8, dtype=torch.float64)
    assert abs(compute_fid(features, features)) < 1e-6
    shift = torch.tensor([3.0, 0, 0, 4.0, 0, 0, 0, 0], dtype=torch.float64)
    assert compute_fid(features, features + shift) == pytest.approx(25.0, rel=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    a, b = torch.randn(600, 8), torch.randn(600, 8)
    mean_same, _ = compute_kid(a, b, subsets=20, subset_size=300)
    mean_diff, _ = compute_kid(a, b + 1.0, subsets=20, subset_size=300)
    assert mean_diff > 0.1 and abs(mean_same) < 0.05 * mean_diff
    assert compute_kid(a, b + 1.0, 20, 300) == compute_kid(a, b + 1.0, 20, 300)  # seeded
