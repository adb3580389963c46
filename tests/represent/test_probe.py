"""Probes: Hungarian matching, linear and k-NN probes on data whose answer is known."""

import numpy as np

from knowgen.represent.probe import (
    clustering_accuracy,
    kmeans_assignments,
    knn_accuracy,
    linear_probe_accuracy,
    nmi,
)


def test_hungarian_matching_undoes_a_permutation():
    labels = np.repeat(np.arange(5), 20)
    permutation = np.array([3, 0, 4, 1, 2])
    assert clustering_accuracy(permutation[labels], labels) == 1.0
    assert nmi(permutation[labels], labels) > 0.999
    noisy = permutation[labels].copy()
    noisy[:10] = permutation[1]  # 10 of class 0 put in class 1's cluster
    assert clustering_accuracy(noisy, labels) == 0.9


def test_one_cluster_for_everything_scores_one_class():
    labels = np.repeat(np.arange(4), 25)
    assert clustering_accuracy(np.zeros(100, int), labels) == 0.25
    assert nmi(np.zeros(100, int), labels) < 1e-9


def separable(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    centres = np.eye(4, 16) * 6
    return (centres[labels] + rng.normal(size=(n, 16))).astype(np.float32), labels


def test_probes_on_separable_features_reach_100_percent():
    (train_x, train_y), (test_x, test_y) = separable(400, 0), separable(200, 1)
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y) >= 0.99
    assert knn_accuracy(train_x, train_y, test_x, test_y) >= 0.99
    assert clustering_accuracy(kmeans_assignments(test_x, 4), test_y) >= 0.99


def test_probes_on_noise_stay_at_chance():
    rng = np.random.default_rng(0)
    train_x, test_x = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    train_y, test_y = rng.integers(0, 4, 400), rng.integers(0, 4, 400)
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y) < 0.4
    assert knn_accuracy(train_x, train_y, test_x, test_y) < 0.4
