"""The op library. Importing a category module registers its ops on ``ember`` and ``Tensor``."""
from . import common, conversion, elementwise, compare, reduction, shape, indexing, linalg, nn_math  # noqa: F401

FUNCTIONS = common.FUNCTIONS
