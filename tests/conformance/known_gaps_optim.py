"""optim_db configurations and error inputs ember does not pass yet, each with its reason.

Keys are the test ids of tests/conformance/test_optim_db.py ("<Optimizer>: <config>" or
"<Optimizer>: error <n>: <desc>"). A listed entry that passes fails the suite: remove it then.
"""
GAPS: dict = {}

# Where ember differs from torch outside the database's entries: ember's Embedding(sparse=True) still
# produces a dense gradient, so SparseAdam reads a dense gradient as the sparse one holding its nonzero
# entries (what torch's ``grad.to_sparse()`` gives, which is how the tests feed torch), where torch raises
# RuntimeError "SparseAdam does not support dense gradients"; an exact zero inside a sparse gradient's
# pattern (an embedding row that got 0.0) updates torch's moments but not ember's.
