"""module_db entries (or entry checks) ember does not pass yet, each with its reason.

Written by tools/gen_conformance_doc.py --gaps from a run; edit the reasons by hand."""
GAPS: dict = {}
