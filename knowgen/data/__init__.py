"""Datasets held in memory as uint8 tensors, and the batch sampler that indexes them."""

from knowgen.data.datasets import DATASETS, DataConfig, Dataset, load_dataset
from knowgen.data.sampler import BatchSampler

__all__ = ["DATASETS", "BatchSampler", "DataConfig", "Dataset", "load_dataset"]
