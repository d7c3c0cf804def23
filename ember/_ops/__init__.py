"""The op library. Importing a category module registers its ops on ``ember`` and ``Tensor``."""
from . import common, conversion, elementwise, compare, reduction, shape, indexing, linalg, nn_math  # noqa: F401
from . import special, complex, foreach  # noqa: F401
from . import aliases  # noqa: F401  (aliases last: it names ops from every file)

FUNCTIONS = common.FUNCTIONS
