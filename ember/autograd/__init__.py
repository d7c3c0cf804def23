"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function`` and grad modes."""
from __future__ import annotations

import warnings
from typing import Sequence

from .._backend import xp
from .engine import cast_dtype, hook_result, run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, is_multithreading_enabled, set_multithreading_enabled)
from .anomaly_mode import set_detect_anomaly, detect_anomaly, is_anomaly_enabled
from .variable import Variable
from .graph import GradientEdge, _backward_pass


def _tensors(x) -> list:
    from .._tensor import Tensor
    if x is None:
        return []
    if isinstance(x, (Tensor, GradientEdge)):
        return [x]
    return list(x)


def _root_grads(outputs, grad_outputs, create_graph: bool) -> list:
    from .._tensor import Tensor
    # as torch's: surplus gradients are ignored, missing ones refused
    if len(grad_outputs) < len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        if isinstance(out, GradientEdge):  # an edge has no tensor to make or check its gradient by: it is given
            if g is None:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grads.append(g if create_graph else g.detach())
            continue
        if not out._requires_grad or out._view_no_grad:  # (such a view has no grad accumulator)
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind not in "fV":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            g = Tensor._make(xp.ones(out._data.shape, out._data.dtype))
        else:
            if g._data.shape != out._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {list(g.shape)} and "
                                   f"output[{i}] has a shape of {list(out.shape)}.")
            if g.is_complex() != out.is_complex():
                raise RuntimeError("For complex Tensors, both grad_output and output are required to have the same "
                                   f"dtype. Mismatch in dtype: grad_output[{i}] has a dtype of {g.dtype} and "
                                   f"output[{i}] has a dtype of {out.dtype}.")
            if not create_graph:
                g = g.detach()
        grads.append(g)
    return grads


_warned_cycle: list = []  # backward(create_graph=True) has warned about the .grad reference cycle


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the graph's leaves (or of ``inputs``)."""
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.", FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both passed to "
                               "`backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    tensors = _tensors(tensors)
    grads = _tensors(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _tensors(inputs.values() if type(inputs) is dict else inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    roots = _root_grads(tensors, grads, create_graph)
    if create_graph and not _warned_cycle:
        _warned_cycle.append(True)  # once per process, as torch's engine
        warnings.warn("Using backward() with create_graph=True will create a reference cycle between the parameter "
                      "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
                      "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
                      "of your parameters to None after use to break the cycle and avoid the leak.", UserWarning,
                      stacklevel=2)
    with _backward_pass(tensors, inputs):  # (which autograd.graph.register_multi_grad_hook asks about)
        captured = run_backward(tensors, roots, retain_graph, create_graph, inputs)
    if inputs is not None:
        from .engine import accumulate_grad
        claimed = set()
        for t, g in zip(inputs, captured):
            if isinstance(t, GradientEdge):  # a leaf's edge fills its .grad; another's gradient goes nowhere
                t = getattr(t.node, "variable", None)
            if g is not None and t is not None and not t._retains_grad:  # (a retained .grad has it already)
                accumulate_grad(t, g, create_graph, claimed)
            if t is not None and t.grad_fn is not None:  # a non-leaf input keeps its .grad from now on, as torch's
                t.retain_grad()


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated."""
    from .._tensor import Tensor
    from ..sparse import sparse_grad  # sparse tensors are differentiated through their values
    through_values = sparse_grad(outputs, inputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                                 allow_unused=allow_unused, materialize_grads=materialize_grads)
    if through_values is not None:
        return through_values
    outputs = _tensors(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _tensors(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        return _grads_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                              materialize_grads)
    for t in inputs:
        if not isinstance(t, GradientEdge) and not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    gos = _tensors(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, gos, create_graph)
    with _backward_pass(outputs, inputs):
        captured = run_backward(outputs, roots, retain_graph, create_graph, inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if isinstance(t, GradientEdge):
            if g is None and materialize_grads:
                raise RuntimeError("materialize_grads cannot be used when the given input is a GradientEdge")
            t = getattr(t.node, "variable", t)  # a leaf's edge: the leaf's hooks and dtype apply
            if g is not None and isinstance(t, GradientEdge):
                result.append(g)
                continue
        if g is not None and t._hooks and t.grad_fn is None:
            with set_grad_enabled(create_graph):  # as inside the engine
                for fn in list(t._hooks.values()):  # a leaf's tensor hooks apply to the gradient grad() returns, as in torch
                    g = hook_result(fn, g, fn(g))
        if g is None:
            if materialize_grads:
                g = Tensor._make(xp.zeros_like(t._data), requires_grad=create_graph)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        else:
            want = t.dtype if t.grad_fn is not None else cast_dtype(t)
            if want is not None and g.dtype is not want:
                g = g.to(want)
        result.append(g)
    return tuple(result)


def _grads_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    """torch's ``is_grads_batched``: one vector-Jacobian product per row of the grad_outputs, stacked."""
    from .. import stack
    gos = _tensors(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    for i, (g, out) in enumerate(zip(gos, outputs)):
        if g is None or tuple(g.shape[1:]) != tuple(out.shape):
            raise RuntimeError("If `is_grads_batched=True`, we interpret the first dimension of each grad_output as "
                               "the batch dimension. The sizes of the remaining dimensions are expected to match the "
                               f"shape of corresponding output, but a mismatch was detected: grad_output[{i}] has a "
                               f"shape of {None if g is None else g.shape} and output[{i}] has a shape of {out.shape}.")
    n = gos[0].shape[0]
    rows = [grad(outputs, inputs, [g[b] for g in gos], True if b < n - 1 else retain_graph, create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads) for b in range(n)]
    return tuple(None if gs[0] is None else stack(gs) for gs in zip(*rows))


__all__ = ["Function", "FunctionCtx", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "set_detect_anomaly", "detect_anomaly", "once_differentiable"]

from .gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: E402
