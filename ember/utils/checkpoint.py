"""Activation checkpointing, as torch.utils.checkpoint: a segment's activations are dropped after the forward
and rebuilt by running the segment again when backward needs them.

``use_reentrant=False`` (torch's recommended variant) is built, as torch's, on saved-tensor hooks: in the
forward every tensor an op saves for backward is replaced by its index; when backward first unpacks one, the
function runs again with the forward's random state, and each tensor saved there fills the next index. The
rerun stops as soon as the last saved tensor is rebuilt (``set_checkpoint_early_stop``), so code after the
segment's last saving op runs only once, as in torch, and a segment that saves nothing is never rerun.
``use_reentrant=True`` runs the function under no_grad, then in backward runs it again with grad enabled on
detached inputs and backpropagates through that (so it refuses ``autograd.grad`` and ``inputs=``, as torch's).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable

from ..autograd.function import Function

_early_stop = [True]


class CheckpointError(RuntimeError):
    """A recomputation that does not match its forward, as torch's."""


class _Stop(Exception):
    """Raised inside the recomputation once every tensor the forward saved is rebuilt."""


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Whether the non-reentrant checkpoints made in this block stop recomputing once all they need is rebuilt."""
    prev, _early_stop[0] = _early_stop[0], enable
    try:
        yield
    finally:
        _early_stop[0] = prev


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True, **kwargs):
    """``function(*args, **kwargs)`` with its activations rebuilt in backward rather than kept, as torch's."""
    import ember
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
                      "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between the "
                      "two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not None or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if ember.is_grad_enabled() and not any(isinstance(a, ember.Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        return _Reentrant.apply(function, preserve, *args)
    return _non_reentrant(function, args, kwargs, preserve, context_fn, early_stop and _early_stop[0])


def _rerun(function, args, kwargs, rng_state):
    """Run ``function`` again with grad enabled, seeing the random state the forward saw; the stream is kept."""
    import ember
    current = ember.get_rng_state()
    if rng_state is not None:
        ember.set_rng_state(rng_state)
    try:
        with ember.enable_grad():
            return function(*args, **kwargs)
    finally:
        ember.set_rng_state(current)


def _non_reentrant(function, args, kwargs, preserve: bool, context_fn, early_stop: bool):
    import ember
    from ..autograd import engine
    from ..autograd.graph import saved_tensors_hooks
    forward_ctx, recompute_ctx = context_fn() if context_fn is not None else (contextlib.nullcontext(),) * 2
    rng_state = ember.get_rng_state() if preserve else None
    saved = [0]                  # how many tensors the forward saved: each is replaced by its index
    rebuilt = [None, {}]         # the backward pass they were recomputed for, the tensors by index

    def recompute() -> dict:
        got = {}

        def keep(t):
            got[len(got)] = t.detach()
            if early_stop and len(got) == saved[0]:
                raise _Stop  # all that backward needs is there: the rest of the function does not run
        try:
            with recompute_ctx, saved_tensors_hooks(keep, lambda _: None):
                _rerun(function, args, kwargs, rng_state)
        except _Stop:
            pass
        if len(got) != saved[0]:
            raise CheckpointError("torch.utils.checkpoint: A different number of tensors was saved during the "
                                  f"original forward and recomputation.\nNumber of tensors saved during forward: "
                                  f"{saved[0]}\nNumber of tensors saved during recomputation: {len(got)}.")
        return got

    def unpack(i: int):
        # a new backward pass (retain_graph) recomputes again, as torch's
        if rebuilt[0] != engine.current_pass() or i not in rebuilt[1]:
            rebuilt[:] = engine.current_pass(), recompute()
        return rebuilt[1].pop(i)

    def index(t) -> int:
        saved[0] += 1
        return saved[0] - 1

    with forward_ctx, saved_tensors_hooks(index, unpack):
        return function(*args, **kwargs)


class _Reentrant(Function):
    """torch's reentrant checkpoint: no graph in the forward; backward reruns the function and backpropagates."""

    @staticmethod
    def forward(ctx, function, preserve: bool, *args):
        import ember
        ctx.function, ctx.args = function, args
        ctx.rng_state = ember.get_rng_state() if preserve else None
        ctx.save_for_backward(*(a for a in args if isinstance(a, ember.Tensor)))
        with ember.no_grad():
            return function(*args)

    @staticmethod
    def backward(ctx, *grads):
        import ember
        from ..autograd import engine
        if not engine.accumulating():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                               "passing an `inputs` parameter to .backward(). To resolve this error, you can either "
                               "set use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        tensors = iter(ctx.saved_tensors)  # (checked against in-place writes since the forward)
        inputs = [next(tensors).detach().requires_grad_(a.requires_grad) if isinstance(a, ember.Tensor) else a
                  for a in ctx.args]
        outputs = _rerun(ctx.function, inputs, {}, ctx.rng_state)
        outputs = (outputs,) if isinstance(outputs, ember.Tensor) else outputs
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, ember.Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        ember.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, ember.Tensor) else None for a in inputs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None, **kwargs):
    """Run a Sequential (or list of modules) in ``segments`` pieces, each but the last checkpointed, as torch does."""
    if isinstance(functions, (list, tuple)):
        functions = list(functions)
    else:
        functions = list(functions.children()) or [functions]
    size = len(functions) // segments
    end = -1

    def run(start: int, stop: int):
        def forward(x):
            for j in range(start, stop + 1):
                x = functions[j](x)
            return x
        return forward

    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
