"""The one operator specification table: every category's specs, in one list."""
from opspecs import compare, elementwise, indexing, linalg, nn_math, reduction, shape, special

CATEGORIES = (elementwise, compare, indexing, linalg, nn_math, reduction, shape, special)

OP_DB = []
for _module in CATEGORIES:
    for _spec in _module.SPECS:
        _spec.category = _spec.category or _module.__name__.split(".")[-1]
        OP_DB.append(_spec)
