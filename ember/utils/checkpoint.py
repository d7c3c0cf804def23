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
import enum
import warnings
from typing import Callable

from ..autograd.function import Function

_early_stop = [True]
_debug = [None]              # set_checkpoint_debug_enabled's setting: None defers to each call's ``debug=``

_DEBUG_TIP = ("\nTip: To see a more detailed error message, either pass `debug=True` to "
              "`torch.utils.checkpoint.checkpoint(...)` or wrap the code block with "
              "`with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to enable checkpoint-debug mode "
              "globally.")


class CheckpointError(RuntimeError):
    """A recomputation that does not match its forward, as torch's."""


class CheckpointPolicy(enum.Enum):
    """What selective activation checkpointing does with an op's output, as torch's enum."""
    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation: bool = False):
    """torch's selective checkpointing asks a policy about each dispatched aten op; ember has no dispatcher."""
    raise NotImplementedError("torch.utils.checkpoint.create_selective_checkpoint_contexts: selective activation "
                              "checkpointing needs torch's op dispatcher (a policy per aten op), which ember does "
                              "not have; checkpoint the segment whole, or split it into smaller checkpoints")


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


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None):
    """Whether checkpoints in this block report in debug detail, overriding their ``debug=`` (None defers to it)."""
    prev, _debug[0] = _debug[0], enabled
    try:
        yield
    finally:
        _debug[0] = prev


def _metadata(t) -> dict:
    """What the default determinism check compares between a saved tensor and its recomputation, as torch's."""
    return {"shape": t.shape, "dtype": t.dtype, "device": t.device}


_DETERMINISM_CHECKS = {"default": _metadata, "none": lambda t: None}


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
    debug = _debug[0] if _debug[0] is not None else debug
    if debug and context_fn is not None:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check}")
    return _non_reentrant(function, args, kwargs, preserve, context_fn, early_stop and _early_stop[0],
                          _DETERMINISM_CHECKS[determinism_check], debug)


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


def _non_reentrant(function, args, kwargs, preserve: bool, context_fn, early_stop: bool, metadata, debug: bool):
    import ember
    from ..autograd import engine
    from ..autograd.graph import saved_tensors_hooks
    forward_ctx, recompute_ctx = context_fn() if context_fn is not None else (contextlib.nullcontext(),) * 2
    rng_state = ember.get_rng_state() if preserve else None
    saved = []                   # the metadata of each tensor the forward saved: each is replaced by its index
    rebuilt = [None, {}]         # the backward pass they were recomputed for, the tensors by index

    def recompute() -> dict:
        got = {}

        def keep(t):
            if len(got) == len(saved):
                raise CheckpointError("torch.utils.checkpoint: trying to save more tensors during recomputation "
                                      "than during the original forward pass.\n" + _DEBUG_TIP)
            got[len(got)] = t.detach()
            if early_stop and len(got) == len(saved):
                raise _Stop  # all that backward needs is there: the rest of the function does not run
        try:
            with recompute_ctx, saved_tensors_hooks(keep, lambda _: None):
                _rerun(function, args, kwargs, rng_state)
        except _Stop:
            pass
        except CheckpointError as e:
            _report(e, saved, got, metadata, debug)
        if len(got) != len(saved):
            _report(CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the original forward and "
                f"recomputation.\nNumber of tensors saved during forward: {len(saved)}\nNumber of tensors saved "
                f"during recomputation: {len(got)}.\n" + _DEBUG_TIP), saved, got, metadata, debug)
        differ = "".join(f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: "
                         f"{metadata(got[i])}\n" for i, m in enumerate(saved) if m != metadata(got[i]))
        if differ:
            _report(CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have "
                                    f"different metadata than during the forward pass.\n{differ}.\n" + _DEBUG_TIP),
                    saved, got, metadata, debug)
        return got

    def unpack(i: int):
        # each backward pass (retain_graph) recomputes once, as torch's; an unpack outside backward recomputes
        if rebuilt[0] != engine.current_pass() or not engine.current_pass():
            rebuilt[:] = engine.current_pass(), recompute()
        if i not in rebuilt[1]:
            _report(CheckpointError(
                "torch.utils.checkpoint: Unpack is being triggered for a tensor that was already unpacked once. If "
                "you are calling ctx.saved_tensors in backward, make sure to do so only once. Otherwise please open "
                "an issue with details on your use case."), saved, rebuilt[1], metadata, debug)
        return rebuilt[1].pop(i)

    def index(t) -> int:
        saved.append(metadata(t))
        return len(saved) - 1

    with forward_ctx, saved_tensors_hooks(index, unpack):
        return function(*args, **kwargs)


def _report(error: CheckpointError, saved: list, got: dict, metadata, debug: bool):
    """Raise ``error``; under debug, inside one that lists what the forward and the recomputation saved."""
    if not debug:
        raise error
    forward = "\n".join(f"${i}: {m}" for i, m in enumerate(saved))
    rerun = "\n".join(f"${i}: {metadata(t)}" for i, t in got.items())
    raise CheckpointError("An error happened while unpacking tensors; dumping logs of latest computation because "
                          "you passed `debug=True` to `torch.utils.checkpoint.checkpoint()`.\n\nTensors saved "
                          f"during the original forward:\n{forward}\n\nTensors saved during recomputation:\n"
                          f"{rerun}\n\n{error}") from error


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
