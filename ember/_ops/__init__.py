"""The op library. Importing a category module registers its ops on ``ember`` and ``Tensor``."""
from . import common, conversion, elementwise, reduction, shape  # noqa: F401

FUNCTIONS = common.FUNCTIONS
