import torch

from knowgen.metrics.prd import kth_neighbour_radius, precision_recall_density_coverage


def test_kth_neighbour_radius_on_a_line():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert kth_neighbour_radius(points, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]


def test_same_distribution_scores_high_and_a_collapsed_one_lacks_recall():
    real = torch.randn(1000, 4)
    same = precision_recall_density_coverage(real, torch.randn(1000, 4))
    assert same["precision"] > 0.9 and same["recall"] > 0.9 and same["coverage"] > 0.9
    assert 0.7 < same["density"] < 1.3
    collapsed = precision_recall_density_coverage(real, torch.randn(1000, 4) * 0.05)
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.2
    assert collapsed["coverage"] < 0.2


def test_far_away_fakes_have_no_precision():
    scores = precision_recall_density_coverage(torch.randn(500, 3), torch.randn(500, 3) + 50)
    assert scores["precision"] == 0.0 and scores["density"] == 0.0 and scores["coverage"] == 0.0
