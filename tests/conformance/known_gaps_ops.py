"""op_db entries (or entry checks) ember does not pass yet, each with its reason.

Written by tools/gen_conformance_doc.py --gaps from a run; edit the reasons by hand. An entry
whose check passes must leave the list (the suite fails otherwise)."""
GAPS: dict = {'torch._scaled_mm_v2': {'missing': 'no ember counterpart of torch._scaled_mm_v2'},
 'torch._scaled_mm': {'missing': 'no ember counterpart of torch._scaled_mm'},
 'torch.ops.aten._safe_softmax.default': {'missing': 'private aten:: operator, not public API'},
 'torch.ops.aten._flash_attention_forward': {'missing': 'private aten:: operator, not public API'},
 'torch.ops.aten._efficient_attention_forward': {'missing': 'private aten:: operator, not public API'},
 'jiterator_unary': {'missing': 'no ember counterpart of jiterator_unary'},
 'jiterator_binary': {'missing': 'no ember counterpart of jiterator_binary'},
 'jiterator_4inputs_with_extra_args': {'missing': 'no ember counterpart of jiterator_4inputs_with_extra_args'},
 'jiterator_binary_return_by_ref': {'missing': 'no ember counterpart of jiterator_binary_return_by_ref'},
 'jiterator_2inputs_2outputs': {'missing': 'no ember counterpart of jiterator_2inputs_2outputs'}}
