"""torch.nn.modules.batchnorm: the batch-norm layers at torch's module path (defined in normalization.py)."""
from .normalization import _BatchNorm, _NormBase, BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d  # noqa: F401

