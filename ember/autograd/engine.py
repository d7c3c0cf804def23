"""The backward pass: walk the graph from the outputs, summing gradients on the way.

Every node gets a sequence number when it is created, and an op's node is always created after
the nodes of its inputs. So running nodes from the highest number down (a heap) visits each node
only after every node that feeds gradient into it: its buffer is complete when it runs. This is
the generation order of the classic from-scratch frameworks; it is iterative, so graphs of any
depth work, and needs no pass to count dependencies.

Running a node calls its Function's backward and adds each input gradient into the buffer of
the node it came from; leaves add theirs into ``.grad``. Saved tensors are released as each node
finishes unless ``retain_graph``. Without ``create_graph`` gradients travel as raw arrays, and
ops that declare ``array_backward`` compute on them directly.
"""
from __future__ import annotations

import itertools
import threading
from heapq import heappop, heappush

from .. import _complex32
from .._backend import ndarray, xp
from .._dtype import is_float
from . import function as _function
from .function import _RELEASED, AccumulateGrad
from .grad_mode import state
from . import anomaly_mode


profiler = None  # the running profile's recorder (ember/autograd/profiler.py), which times each node


class _Pass(threading.local):
    number, accumulating = 0, True  # the backward pass running in this thread (0: none), and whether into .grad


_pass, _pass_numbers = _Pass(), itertools.count(1)


def current_pass() -> int:
    """A number for the backward pass running now (0 outside backward): checkpoint recomputes once per pass."""
    return _pass.number


def accumulating() -> bool:
    """False inside ``autograd.grad`` or ``backward(inputs=...)``, which the reentrant checkpoint refuses."""
    return _pass.accumulating


def _sink_nodes(roots):
    return [(r.grad_fn, r._output_nr) if r.grad_fn is not None else (r._accumulator(), 0) for r in roots]


def _wrap(g):
    """A buffered gradient as a Tensor (arrays travel bare without create_graph)."""
    if g is None or isinstance(g, _function.Tensor):
        return g
    if type(g) is not ndarray and getattr(g, "is_sparse", False):  # a sparse gradient travels as it is
        return g
    return _function.Tensor._make(g if type(g) is ndarray else xp.asarray(g))


def run_backward(roots, grads, retain_graph: bool, create_graph: bool, inputs=None):
    """Backpropagate ``grads`` from ``roots``.

    Without ``inputs`` the leaves' ``.grad`` accumulate; with ``inputs`` nothing accumulates
    and the gradients reaching those tensors are returned instead.
    """
    Tensor = _function.Tensor
    starts = _sink_nodes(roots)
    arrays = not create_graph

    # gradients to capture instead of accumulating (autograd.grad, backward(inputs=...))
    capture = needed = None
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)
            capture.setdefault(key, []).append(i)
        needed = _needed_nodes(starts, {k[0] for k in capture})
    captured = [None] * (len(inputs) if inputs is not None else 0)
    claimed = set()  # arrays already stored as some .grad; a second owner gets a copy

    buffers, heap = {}, []
    for (node, nr), g in zip(starts, grads):
        claimed.add(id(g._data))
        if arrays:
            g = g._data
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._nout
            heappush(heap, (-node._seq, node))
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    fast = not anomaly_mode.enabled  # most nodes need none of _call's extra checks
    array_nodes = arrays and fast and capture is None
    prev_mode, prev_pass = (state.grad, state.inference), (_pass.number, _pass.accumulating)
    _pass.number, _pass.accumulating = next(_pass_numbers), capture is None
    state.set(create_graph, state.inference)  # in inference_mode nothing records, whatever create_graph says
    # torch's backward is silent about overflow, 0 * inf and the like (a formula may make an inf and
    # mask it out again); NumPy would warn for each
    quiet = xp.errstate(all="ignore")  # (half the cost of a seterr pair)
    quiet.__enter__()
    # the pending node numbered above every node in the heap may wait outside it, its gradients in
    # ready_grads rather than in buffers: along a chain each node then hands its gradient straight to the
    # next, without a push and a pop or a dict entry
    ready = ready_grads = None
    top = -heap[0][0] if heap else 0  # the heap's highest number (0: empty; numbers start at 1)
    mark = profiler.backward_pass() if profiler is not None else None  # mark(node) as each node starts
    try:
        while True:
            if ready is not None and ready._seq > top:
                node, grads_out, ready = ready, ready_grads, None
            elif heap:
                node = heappop(heap)[1]
                top = -heap[0][0] if heap else 0
                grads_out = buffers.pop(node)
            else:
                break
            if mark is not None:
                mark(node)
            fast_backward = array_nodes and node._fast
            if fast_backward:
                # no graph to build: an arithmetic-only formula runs on the arrays themselves
                node._arrays = True  # (until a retained graph's next backward: see below)
                results = fast_backward(node, grads_out[0])
                if type(results) is not tuple:
                    results = (results,)
            elif type(node) is AccumulateGrad and capture is None and not node._pre_hooks and not node._post_hooks:
                accumulate_grad(node.variable, grads_out[0], create_graph, claimed)
                continue
            else:
                if needed is not None and node not in needed:
                    continue
                if arrays:
                    grads_out = [_wrap(g) for g in grads_out]
                leaf = type(node) is AccumulateGrad
                if (node._pre_hooks or node._retain) and not (leaf and capture is not None):
                    grads_out = _pre_hooks(node, grads_out, leaf)  # (grad() captures before a leaf's node)
                if capture is not None:
                    for nr, g in enumerate(grads_out):
                        for i in capture.get((node, nr), ()):
                            captured[i] = g
                if type(node) is AccumulateGrad:
                    if capture is None:
                        accumulate_grad(node.variable, grads_out[0], create_graph, claimed, bool(node._pre_hooks))
                        for fn in list(node._post_hooks.values()) if node._post_hooks else ():
                            fn((), (grads_out[0],))  # (an AccumulateGrad has no inputs)
                    continue
                if needed is not None and not any(nxt in needed for nxt, _ in node.next_functions):
                    continue
                if fast and node._out_meta is None and node._in_meta is None and node._post_hooks is None:
                    results = node._fn.backward(node, *grads_out)
                    if type(results) is not tuple:
                        results = (results,)
                else:
                    results = _call(node, grads_out)
            if not retain_graph:
                node._saved, node._out_data = _RELEASED, None  # Node._release, inlined
            elif node._arrays:
                node._arrays = False
            for (nxt, nr), g in zip(node.next_functions, results):
                if nxt is None or g is None:
                    continue
                if type(g) is not ndarray and arrays and isinstance(g, Tensor):
                    g = g._data
                buf = ready_grads if nxt is ready else buffers.get(nxt)
                if buf is None:  # a node newly pending
                    if nxt._nout == 1:
                        buf = [g]
                    else:
                        buf = [None] * nxt._nout
                        buf[nr] = g
                    if ready is None:
                        ready, ready_grads = nxt, buf
                        continue
                    if nxt._seq > ready._seq:  # it waits outside the heap instead of the one waiting there
                        ready, ready_grads, nxt, buf = nxt, buf, ready, ready_grads
                    buffers[nxt] = buf
                    heappush(heap, (-nxt._seq, nxt))
                    if nxt._seq > top:
                        top = nxt._seq
                else:
                    old = buf[nr]
                    try:
                        # a sparse sum puts the newer gradient first, as torch's input buffer does
                        buf[nr] = g if old is None else old + g if type(old) is ndarray or not getattr(
                            old, "is_sparse", False) else g + old
                    except TypeError:  # complex32's records have no NumPy add: summed in complex64
                        buf[nr] = _complex32.add(old, g)
    finally:
        if mark is not None:
            mark(None)
        state.set(*prev_mode)
        _pass.number, _pass.accumulating = prev_pass
        quiet.__exit__(None, None, None)
    if state.inference:  # gradients made in inference_mode are inference tensors, as torch's
        _function._mark_inference(*(g for g in captured if g is not None and all(g is not r for r in grads)))
    return captured


def _needed_nodes(starts, targets) -> set:
    """Nodes on some path from the roots to a capture target: only those need to run."""
    seen = {n for n, _ in starts}
    stack = list(seen)
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    needed = set()
    for node in sorted(seen, key=lambda n: n._seq):  # inputs' nodes before their consumers
        if node in targets or any(nxt in needed for nxt, _ in node.next_functions if nxt is not None):
            needed.add(node)
    return needed


def _pre_hooks(node, grads, leaf: bool = False):
    """What runs before ``node``, in torch's order: tensor hooks (with ``leaf``, an AccumulateGrad's leaf's),
    retained grads, then the node's own pre-hooks."""
    hooks = node._pre_hooks or {}
    grads = list(grads)
    if leaf and node.variable._hooks and grads[0] is not None:
        grads[0] = _leaf_hooks(node.variable, grads[0])[0]
    for nr, fns in hooks.items():
        for fn in list(fns.values()) if nr != -1 else ():
            if grads[nr] is not None:
                grads[nr] = hook_result(fn, grads[nr], fn(grads[nr]))
    if node._retain:
        for nr, ref in node._retain.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if state.enabled else grads[nr].detach()
                t._grad = g.clone() if t._grad is None else t._grad + g
    for fn in list(hooks[-1].values()) if -1 in hooks else ():
        grads = list(hook_results(fn, grads, fn(tuple(grads))))
    return grads


def hook_result(fn, old, new):
    """What a hook returned, checked as torch's: None (keep ``old``) or a tensor of old's size and dtype."""
    if new is None:
        return old
    if not isinstance(new, _function.Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    name = getattr(fn, "__name__", type(fn).__name__)
    if new.shape != old.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if new.dtype is not old.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {old.type()} got {new.type()})")
    return new


def hook_results(fn, old, new) -> tuple:
    """A node hook's tuple of gradients, each checked by ``hook_result``."""
    if new is None:
        return tuple(old)
    if len(new) != len(old):
        name = getattr(fn, "__name__", type(fn).__name__)
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got {len(new)}, but "
                           f"expected {len(old)})")
    if any(o is None and n is not None for o, n in zip(old, new)):
        raise RuntimeError("can't replace a None gradient with a non-None value")
    return tuple(n if n is None else hook_result(fn, o, n) for o, n in zip(old, new))


def _call(node, grads):
    """Run one node's backward; returns its input gradients as a tuple."""
    if node._out_meta is not None and node.materialize_grads:
        Tensor = _function.Tensor
        grads = [g if g is not None or m is None else Tensor._make(xp.zeros(m[0], m[1].np))
                 for g, m in zip(grads, node._out_meta)]
    try:
        out = node._fn.backward(node, *grads)
    except Exception:
        if node._trace is not None:
            _report_trace(node)
        raise
    if type(out) is not tuple:
        out = (out,)
    if node._in_meta is not None:
        # a user Function must return one gradient per forward input (built-ins may stop early)
        if len(out) != len(node._in_meta):
            raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                               f"(expected {len(node._in_meta)}, got {len(out)})")
        out = _validate(node, out, node._in_meta)
    if anomaly_mode.enabled and anomaly_mode.check_nan:
        for i, g in enumerate(out):
            if g is not None and is_float(g._data.dtype) and bool(xp.isnan(g._data).any()):
                _report_trace(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    if node._post_hooks:
        for fn in list(node._post_hooks.values()):
            out = hook_results(fn, out, fn(out, tuple(grads)))
    return out


def _validate(node, out, in_meta):
    # a user Function's gradients must fit its inputs: reduce broadcast ones, cast dtypes, reject the rest
    from .._ops.common import sum_to
    out = list(out)
    for i, (g, m) in enumerate(zip(out, in_meta)):
        if g is not None and m is None:
            raise RuntimeError(f"function {node.name()} returned a gradient different than None at position {i + 1}, "
                               "but the corresponding forward input was not a Variable")
        if g is None or m is None:
            continue
        shape, dt = m
        if g.shape != shape:
            try:
                g = sum_to(g, shape)
            except RuntimeError:
                g = None
            if g is None or g.shape != shape:
                raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(out[i].shape)} but expected shape compatible with {list(shape)}")
        if type(node.next_functions[i][0]) is AccumulateGrad:  # a leaf's gradient takes its grad_dtype
            dt = grad_dtype(node.next_functions[i][0].variable)
        if dt is not None and g.dtype is not dt and dt.is_floating_point:
            g = g.to(dt)
        out[i] = g
    return tuple(out)


def _report_trace(node) -> None:
    import warnings
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                  + "".join(node._trace or ()), UserWarning, stacklevel=2)  # as torch's: a warning


def reset_grad(p, set_to_none: bool) -> None:
    """``p.grad`` to None, or to zeros in place as torch's zero_grad: the same object, detached, version moved
    (views of it and references to it see the zeros)."""
    g = p._grad
    if g is None:
        return
    if set_to_none:
        p._grad = None
        return
    if type(g) is not _function.Tensor and getattr(g, "is_sparse", False):
        g.zero_()  # torch's zero_ leaves a sparse gradient with no entries
        return
    if g.grad_fn is not None:
        g.detach_()
    else:
        g.requires_grad_(False)
    g._data[...] = 0
    g._version += 1


def grad_dtype(leaf):
    """The dtype ``leaf``'s gradients are cast to: its own unless set through ``Tensor.grad_dtype`` (None: none)."""
    return leaf.__dict__.get("_grad_dtype", leaf.dtype)


def cast_dtype(leaf):
    """``grad_dtype(leaf)`` for a gradient backward computed: torch's engine refuses one it may not cast to."""
    dt = grad_dtype(leaf)
    if dt is not None and not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"backward: a leaf of shape {list(leaf.shape)} has grad_dtype {dt}, but a gradient can "
                           "only be floating point or complex (torch's isDifferentiableType)")
    return dt


# the C++ type names torch's messages about gradient dtypes use
_CPP_NAMES = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
              "complex32": "c10::complex<c10::Half>", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>", "int64": "long int", "int32": "int", "int16": "short int",
              "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "uint16": "short unsigned int",
              "uint32": "unsigned int", "uint64": "long unsigned int"}


def check_grad(t, value) -> None:
    """Refuse ``value`` as ``t.grad`` unless it has t's shape and grad_dtype, with torch's messages."""
    if value.shape != t.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                           f"'{list(t.shape)}'. Please ensure that the gradient and the tensor are the same size")
    want = grad_dtype(t)
    if want is not None and value.dtype is not want:
        from .._ops.common import _type_name
        raise RuntimeError(f"attempting to assign a gradient with dtype '{_CPP_NAMES[value.dtype.name]}' to a tensor "
                           f"with grad_dtype '{_type_name(want)}'. The gradient must match the tensor's grad_dtype "
                           "(defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a "
                           "specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
                           "dtypes of a tensor and its gradient may break downstream systems that assume they match.")


def _leaf_hooks(var, g) -> tuple:
    """``g`` through the leaf's tensor hooks, which see a Tensor of its grad dtype; and True: a hook may have kept
    what it saw or returned, so ``.grad`` must not be that memory (torch copies a gradient held elsewhere)."""
    dt = cast_dtype(var)
    g = _wrap(g)
    if dt is not None and g.dtype is not dt:
        g = g.to(dt)
    for fn in list(var._hooks.values()):
        g = hook_result(fn, g, fn(g))
    return g, True


def accumulate_grad(var, g, create_graph: bool, claimed, hooked: bool = False) -> None:
    """Add ``g`` (a Tensor, or an array without create_graph) into ``var.grad``, after the leaf's tensor hooks
    unless ``hooked`` (they ran already). The first gradient is stored as it is when nothing else can see its
    memory, else copied: ``.grad`` is always a writable array of its own, as torch's."""
    old = var._grad
    if (type(g) is not ndarray and getattr(g, "is_sparse", False)) or (
            old is not None and type(old) is not _function.Tensor and getattr(old, "is_sparse", False)):
        from ..sparse import accumulate_sparse  # (Embedding(sparse=True)'s gradients)
        accumulate_sparse(var, g, create_graph, hooked)
        for fn in list(var._post_accumulate_hooks.values()) if var._post_accumulate_hooks else ():
            fn(var)
        return
    shared = hooked  # a hook's result may be held elsewhere
    dt = cast_dtype(var)
    if var._hooks and not hooked:
        g, shared = _leaf_hooks(var, g)
    old = var._grad
    if create_graph:
        g = _wrap(g)
        if dt is not None and g.dtype is not dt:
            g = g.to(dt)
        if old is None:
            arr = g._data
            if arr.shape != var._data.shape:
                g = g.expand(var.shape).clone()
            elif shared or not _owned(arr, claimed):
                g = g.clone()
            claimed.add(id(g._data))
            var._grad = g
        else:
            var._grad = old + g
    else:  # no graph: arrays only, the common case
        arr = g._data if isinstance(g, _function.Tensor) else g
        if dt is not None and arr.dtype != dt.np:
            arr = arr.astype(dt.np)
        if old is None:
            if arr.shape != var._data.shape:
                arr = xp.broadcast_to(arr, var._data.shape).copy()
            elif shared or not _owned(arr, claimed):
                arr = arr.copy()
            claimed.add(id(arr))
            var._grad = _function.Tensor._make(arr)
            if state.inference:
                var._grad._vc = _function.NO_VERSION
        elif old._data.flags.writeable and old._data.shape == arr.shape and old._vc is not _function.NO_VERSION:
            # in place, as torch's (a .grad with a graph, from create_graph, keeps it): views of .grad see
            # the sum, its layout stays, its version moves
            xp.add(old._data, arr, out=old._data, casting="unsafe")
            old._vc[0] += 1
        else:
            total = old._data + arr
            old._data = total if type(total) is ndarray else xp.asarray(total)  # NumPy makes 0-d sums scalars
    for fn in list(var._post_accumulate_hooks.values()) if var._post_accumulate_hooks else ():
        fn(var)


def _owned(arr, claimed) -> bool:
    """Whether ``arr`` may become a ``.grad`` as it is: writable and not already another's."""
    return arr.flags.writeable and id(arr) not in claimed and (arr.base is None or id(arr.base) not in claimed)
