"""Keyword names: every public ``ember.X`` function and ``Tensor.X`` method that torch also has takes the
parameter names torch takes, so a call written with keywords for torch runs on ember.

torch's names come from its operator schemas (``torch._C._jit_get_schemas_for_operator("aten::X")``,
``self`` read as ``input`` for functions, every overload, ``.out`` overloads giving ``out``) or, for
functions written in Python, ``inspect.signature``. A difference fails unless ``KNOWN`` lists it with
its reason (an entry must then still differ, so the table only shrinks).
"""
import inspect
import types

import pytest
import torch

import ember

# factory keywords torch's Python binding adds to the schema's
BINDING = {"requires_grad", "out", "names", "check_invariants"}


def torch_names(name: str, method: bool) -> list:
    """The parameter-name sets of torch's overloads of ``name`` (first argument dropped for methods)."""
    sets = []
    for schema in torch._C._jit_get_schemas_for_operator("aten::" + name):
        args = [a.name for a in schema.arguments]
        sets.append(set(args[1:]) if method else {"input" if a == "self" else a for a in args})
    if not sets:
        obj = getattr(torch.Tensor if method else torch, name)
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            return []
        sets.append({p for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)} - {"self"})
    return sets


def ember_names(fn, method: bool):
    """The names ember's ``fn`` takes, and whether it passes other keywords on (``**kwargs``)."""
    params = list(inspect.signature(fn).parameters.items())
    if method and params and params[0][1].kind != inspect.Parameter.VAR_POSITIONAL:
        params = params[1:]
    forwards = any(v.kind == v.VAR_KEYWORD for _, v in params)
    return {p for p, v in params if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}, forwards


def difference(name: str, method: bool):
    """(names ember takes that torch does not, names torch takes that ember does not), or None."""
    fn = getattr(ember.Tensor if method else ember, name)
    mine, forwards = ember_names(fn, method)
    theirs = torch_names(name, method)
    if not theirs:
        return None
    union = set().union(*theirs) | (BINDING if any("dtype" in s for s in theirs) else {"out"})
    if any("dim" in s for s in theirs):  # torch's argument parser takes axis= for any dim=
        union.add("axis")
    extra = mine - union
    # a method that passes its keywords on (the in-place forms) takes whatever its out-of-place op takes
    missing = set() if forwards else min((s - mine - BINDING for s in theirs), key=len)
    return (sorted(extra), sorted(missing)) if extra or missing else None


def public(method: bool) -> list:
    ns, tns = (ember.Tensor, torch.Tensor) if method else (ember, torch)
    out = []
    for name in sorted(dir(ns)):
        fn = getattr(ns, name, None)
        if name.startswith("_") or not isinstance(fn, types.FunctionType) or not hasattr(tns, name):
            continue
        out.append(name)
    return out


CASES = [(n, False) for n in public(False)] + [(n, True) for n in public(True)]


@pytest.mark.parametrize("name,method", CASES, ids=[("Tensor." if m else "") + n for n, m in CASES])
def test_keyword_names_are_torchs(name, method):
    key = ("Tensor." if method else "") + name
    diff = difference(name, method)
    if key in KNOWN:
        assert diff is not None, f"{key} now takes torch's names: remove it from KNOWN"
        assert diff == KNOWN[key][:2], f"{key}: the difference changed to {diff}"
        return
    assert diff is None, f"{key}: ember-only names {diff[0]}, torch's names ember lacks {diff[1]}"


# name: (ember-only names, torch's names ember lacks, reason)
KEPT = ("a keyword of torch's documented Python signature that its schema lacks, or ember's own name: "
        "not yet renamed")
KNOWN = {
    'atleast_1d': ([], ['input'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'atleast_2d': ([], ['input'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'atleast_3d': ([], ['input'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'block_diag': ([], ['tensors'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'broadcast_shapes': ([], ['a', 'b'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'broadcast_tensors': ([], ['tensors'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'can_cast': (['frm'], ['from_'],
     KEPT),
    'cartesian_prod': ([], ['tensors'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'chain_matmul': ([], ['matrices'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'cholesky_inverse': (['L'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'cholesky_solve': (['B', 'L'], ['input', 'input2'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'det': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'dsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'einsum': ([], ['a'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'hsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'initial_seed': ([], ['input'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'inverse': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'is_autocast_enabled': (['device_type'], [],
     'torch-only feature (CUDA, sparse, fft, compile, pickle) ember does not have'),
    'log_softmax': (['_stacklevel'], [],
     "torch.nn.functional's hidden _stacklevel; torch.X's schema lacks it"),
    'logdet': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'lu': (['A', 'get_infos', 'pivot'], [],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'lu_solve': (['b'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'matrix_exp': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'matrix_power': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'meshgrid': ([], ['tensors'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'nonzero': (['as_tuple'], [],
     KEPT),
    'ones': (['memory_format'], [],
     KEPT),
    'permute': ([], ['dims'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'promote_types': (['a', 'b'], ['type1', 'type2'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'reshape': ([], ['shape'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'result_type': ([], ['other', 'tensor'],
     'not yet renamed: a keyword call written for torch with these names fails on ember'),
    'save': (['_disable_byteorder_record', '_use_new_zipfile_serialization', 'f', 'obj', 'pickle_module', 'pickle_protocol'], ['filename', 'item'],
     'torch-only feature (CUDA, sparse, fft, compile, pickle) ember does not have'),
    'seed': ([], ['input'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'slogdet': (['A'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'softmax': (['_stacklevel'], [],
     "torch.nn.functional's hidden _stacklevel; torch.X's schema lacks it"),
    'split': (['split_size_or_sections', 'tensor'], ['input', 'split_size'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'swapaxes': (['dim0', 'dim1'], ['axis0', 'axis1'],
     'not yet renamed: a keyword call written for torch with these names fails on ember'),
    'tensor': (['pin_memory'], [],
     KEPT),
    'tensor_split': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'tensordot': (['a', 'b', 'dims'], ['dims_other', 'dims_self', 'input', 'other'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'triangular_solve': (['b'], ['input'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'true_divide': (['rounding_mode'], [],
     KEPT),
    'unique': (['dim', 'input', 'return_counts', 'return_inverse', 'sorted'], [],
     KEPT),
    'vsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'zeros': (['memory_format'], [],
     KEPT),
    'Tensor.backward': (['inputs'], [],
     KEPT),
    'Tensor.cholesky_solve': (['L'], ['input2'],
     'one definition serves torch.X and torch.linalg.X (or the deprecated form), which name this argument differently'),
    'Tensor.cuda': (['device', 'memory_format', 'non_blocking'], [],
     'torch-only feature (CUDA, sparse, fft, compile, pickle) ember does not have'),
    'Tensor.dsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'Tensor.expand': ([], ['implicit', 'size'],
     'not yet renamed: a keyword call written for torch with these names fails on ember'),
    'Tensor.hsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'Tensor.is_pinned': ([], ['device'],
     'torch-only feature (CUDA, sparse, fft, compile, pickle) ember does not have'),
    'Tensor.log_softmax': (['_stacklevel'], [],
     "torch.nn.functional's hidden _stacklevel; torch.X's schema lacks it"),
    'Tensor.new_empty': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.new_ones': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.new_zeros': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.nonzero': (['as_tuple'], [],
     KEPT),
    'Tensor.permute': ([], ['dims'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.polygamma': (['n'], ['self'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.random_': (['from_'], [],
     KEPT),
    'Tensor.repeat': ([], ['repeats'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.reshape': ([], ['shape'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.resize_': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.softmax': (['_stacklevel'], [],
     "torch.nn.functional's hidden _stacklevel; torch.X's schema lacks it"),
    'Tensor.sum_to_size': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.swapaxes': (['dim0', 'dim1'], ['axis0', 'axis1'],
     'not yet renamed: a keyword call written for torch with these names fails on ember'),
    'Tensor.tensor_split': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'Tensor.true_divide': (['rounding_mode'], [],
     KEPT),
    'Tensor.uniform_': (['from_'], [],
     KEPT),
    'Tensor.view': ([], ['size'],
     'ember takes these as *args only; torch also accepts them by keyword'),
    'Tensor.vsplit': (['indices_or_sections'], ['sections'],
     "ember takes torch's documented name; torch's binding spells it per overload (sections/indices/split_size)"),
    'Tensor.where': (['condition'], [],
     KEPT),
}
