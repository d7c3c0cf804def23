"""Activation checkpointing, as torch.utils.checkpoint.

Torch saves memory by dropping a segment's activations and running the segment again in backward. ember keeps
the segment's graph (the gradients are the same; only the memory saving is not made) but still runs the
segment again when backward first reaches it, as torch does, so that side effects of the forward match:
batch norm's running statistics are updated twice, a counter in the function counts twice. The rerun sees the
random state the forward saw (``preserve_rng_state``) and leaves the global stream where it was.
Unlike torch's non-reentrant variant, which stops recomputing once the last saved activation is rebuilt, the
rerun here always goes to the end of the function.
"""
from __future__ import annotations

import warnings
from typing import Callable


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False, preserve_rng_state: bool = True,
               **kwargs):
    """``function(*args, **kwargs)``, run again when backward reaches it: torch's values, gradients and side effects."""
    import ember
    from ..onnx._trace import tensors as _tensors  # the tensors in nested args and results
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly; "
                      "use_reentrant=False is recommended (True is the default)", stacklevel=2)
        use_reentrant = True
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if not ember.is_grad_enabled():
        return function(*args, **kwargs)
    if use_reentrant and not any(t.requires_grad for t in _tensors(args)):
        # the reentrant variant differentiates only through its tensor inputs: none, so no graph at all
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        with ember.no_grad():
            return function(*args, **kwargs)
    rng_state = ember.get_rng_state() if preserve_rng_state else None
    out = function(*args, **kwargs)
    pending = [True]

    def rerun(grad):
        if pending[0]:
            pending[0] = False
            current = ember.get_rng_state()
            if rng_state is not None:
                ember.set_rng_state(rng_state)
            try:
                with ember.no_grad():  # the values are already in the kept graph; only the side effects count
                    function(*args, **kwargs)
            finally:
                ember.set_rng_state(current)
        return None

    for t in _tensors(out):
        if t.requires_grad:
            t.register_hook(rerun)
    return out


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
