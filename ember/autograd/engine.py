"""The backward pass: walk the graph from the outputs, in topological order, summing gradients.

1. Discover the nodes reachable from the roots and count each node's incoming edges.
2. Start from the roots; a node runs once every node that feeds it has delivered
   its gradient (Kahn's algorithm, iterative: no recursion limit on deep graphs).
3. Running a node calls its Function's backward and adds each input gradient into the
   buffer of the node it came from; leaves add theirs into ``.grad``.
Saved tensors are released as each node finishes unless ``retain_graph``.
"""
from __future__ import annotations

from .._backend import xp
from .function import AccumulateGrad
from .grad_mode import state
from . import anomaly_mode


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _sink_nodes(roots):
    return [(r.grad_fn, r._output_nr) if r.grad_fn is not None else (r._accumulator(), 0) for r in roots]


def run_backward(roots, grads, retain_graph: bool, create_graph: bool, inputs=None):
    """Backpropagate ``grads`` from ``roots``.

    Without ``inputs`` the leaves' ``.grad`` accumulate; with ``inputs`` nothing accumulates
    and the gradients reaching those tensors are returned instead.
    """
    from .._tensor import Tensor
    starts = _sink_nodes(roots)

    # 1. reachable nodes and their in-degree
    deps = {}
    stack = list(dict.fromkeys(n for n, _ in starts))  # two roots may share a node
    seen = set(stack)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)

    # gradients to capture instead of accumulating (autograd.grad, backward(inputs=...))
    capture = None
    needed = None
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)
            capture.setdefault(key, []).append(i)
        needed = _needed_nodes(starts, deps, {k[0] for k in capture})
    captured = [None] * (len(inputs) if inputs is not None else 0)
    claimed = set()  # arrays already stored as some .grad; a second owner gets a copy

    buffers = {}
    for (node, nr), g in zip(starts, grads):
        buf = buffers.setdefault(node, [None] * node._nout)
        buf[nr] = _add(buf[nr], g)
        claimed.add(id(g._data))
    ready = [n for n, _ in starts if deps.get(n, 0) == 0]
    ready = list(dict.fromkeys(ready))

    fast = not anomaly_mode.enabled  # most nodes need none of _call's extra checks
    prev_mode = state.enabled
    state.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            grads_out = buffers.pop(node, None)
            results = ()
            if grads_out is not None and (needed is None or node in needed):
                if node._pre_hooks or node._retain:
                    grads_out = _pre_hooks(node, grads_out)
                if capture is not None:
                    for nr, g in enumerate(grads_out):
                        for i in capture.get((node, nr), ()):
                            captured[i] = g
                if type(node) is AccumulateGrad:
                    if capture is None:
                        accumulate_grad(node.variable, grads_out[0], create_graph, claimed)
                elif needed is None or any(nxt in needed for nxt, _ in node.next_functions):
                    if fast and node._out_meta is None and node._in_meta is None and node._post_hooks is None:
                        results = node._fn.backward(node, *grads_out)
                        if type(results) is not tuple:
                            results = (results,)
                    else:
                        results = _call(node, grads_out)
                    if not retain_graph:
                        node._saved = node._out_data = None  # Node._release, inlined
                        node._freed = True
            n_results = len(results)
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = results[i] if i < n_results else None
                if g is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._nout
                    old = buf[nr]
                    buf[nr] = g if old is None else old + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    ready.append(nxt)
    finally:
        state.enabled = prev_mode
    return captured


def _needed_nodes(starts, deps, targets):
    """Nodes on some path from the roots to a capture target: only those need to run."""
    order, indeg = [], dict(deps)
    ready = list(dict.fromkeys(n for n, _ in starts if indeg.get(n, 0) == 0))
    while ready:
        node = ready.pop()
        order.append(node)
        for nxt, _ in node.next_functions:
            if nxt is not None:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    ready.append(nxt)
    needed = set()
    for node in reversed(order):
        if node in targets or any(nxt in needed for nxt, _ in node.next_functions if nxt is not None):
            needed.add(node)
    return needed


def _pre_hooks(node, grads):
    hooks = node._pre_hooks
    if hooks:
        grads = list(grads)
        for nr, fns in hooks.items():
            for fn in list(fns):
                if nr == -1:
                    out = fn(tuple(grads))
                    if out is not None:
                        grads = list(out)
                elif grads[nr] is not None:
                    out = fn(grads[nr])
                    if out is not None:
                        grads[nr] = out
    if node._retain:
        for nr, ref in node._retain.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if state.enabled else grads[nr].detach()
                t._grad = g.clone() if t._grad is None else t._grad + g
    return grads


def _call(node, grads):
    """Run one node's backward; returns its input gradients as a tuple."""
    if node._out_meta is not None and node.materialize_grads:
        from .._tensor import Tensor
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
    if anomaly_mode.enabled:
        for i, g in enumerate(out):
            if g is not None and g._data.dtype.kind == "f" and bool(xp.isnan(g._data).any()):
                _report_trace(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    if node._post_hooks:
        for fn in node._post_hooks:
            r = fn(out, tuple(grads))
            if r is not None:
                out = tuple(r)
    return out


def _validate(node, out, in_meta):
    # a user Function's gradients must fit its inputs: reduce broadcast ones, cast dtypes, reject the rest
    from .._ops.common import sum_to
    out = list(out)
    for i, (g, m) in enumerate(zip(out, in_meta)):
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
        if g.dtype is not dt and dt.is_floating_point:
            g = g.to(dt)
        out[i] = g
    return tuple(out)


def _report_trace(node) -> None:
    import sys
    print(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
          + "".join(node._trace or ()), file=sys.stderr)


def accumulate_grad(var, g, create_graph: bool, claimed) -> None:
    """Add ``g`` into ``var.grad``: the first gradient is stored (copied if another owner has it)."""
    if g.dtype is not var.dtype:
        g = g.to(var.dtype)
    for fn in var._hooks or ():
        out = fn(g)
        if out is not None:
            g = out
    if not create_graph:
        g = g.detach()
    if var._grad is None:
        key = id(g._data)
        base = g._data.base
        if key in claimed or (base is not None and id(base) in claimed) or g._data.shape != var._data.shape:
            g = g.expand(var.shape).clone() if g._data.shape != var._data.shape else g.clone()
        claimed.add(id(g._data))
        var._grad = g
    elif create_graph or var._grad.requires_grad:
        var._grad = var._grad + g
    else:
        var._grad._data = var._grad._data + g._data
    for fn in var._post_accumulate_hooks or ():
        fn(var)
