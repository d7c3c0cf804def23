"""Datasets, samplers and the DataLoader, as torch.utils.data."""
from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, ChainDataset, StackDataset,
                      random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
                      BatchSampler)
from .dataloader import DataLoader, get_worker_info
from ._collate import default_collate, default_convert
from .distributed import DistributedSampler

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DataLoader", "get_worker_info", "default_collate", "default_convert", "DistributedSampler"]
