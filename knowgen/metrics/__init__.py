"""Evaluation in an evaluator network's feature space: FID, KID, IS, precision/recall,
density/coverage, class statistics. Entry points live in `knowgen.metrics.evaluate`."""
