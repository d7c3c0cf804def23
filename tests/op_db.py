"""The one operator specification table: every category's specs, in one list."""
from opspecs import compare, elementwise, indexing, linalg, nn_math, reduction, shape

OP_DB = [*elementwise.SPECS, *compare.SPECS, *indexing.SPECS, *linalg.SPECS, *nn_math.SPECS, *reduction.SPECS, *shape.SPECS]
