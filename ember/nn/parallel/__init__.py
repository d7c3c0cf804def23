"""Data parallelism, as torch.nn.parallel: DistributedDataParallel over MPI ranks, and DataParallel."""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
