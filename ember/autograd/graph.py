"""torch.autograd.graph: the graph's node type, gradient edges, multi-tensor hooks and saved-tensor hooks.

Saved-tensor hooks: while a ``saved_tensors_hooks`` is active, ``function.saved_hooks`` is set, and every
recorded op hands its node to ``_pack`` once it has saved what its backward needs (inputs by
``save_for_backward``, its result by ``saves_output``). ``_pack`` replaces the node's ``_saved`` by a
``_Packed``: what the pack hook returned for each tensor, and the history (grad_fn, output number, a
leaf's AccumulateGrad) the unpacked tensor gets back, so that ``create_graph=True`` still differentiates
through it. ``ctx.saved_tensors`` and ``ctx.output`` see a ``_Packed`` and call the unpack hook. With no
hook active the ops pay one check of a module global per recorded op.
"""
from __future__ import annotations

import abc
import contextlib
import itertools
import threading
import weakref
from typing import Any, Callable, Iterable, Literal, NamedTuple, Sequence

from . import function as _function
from .function import Node as _EmberNode, AccumulateGrad
from .grad_mode import no_grad


class Node(abc.ABC):
    """The type of every ``grad_fn`` (and AccumulateGrad): ``isinstance(t.grad_fn, Node)`` holds."""

    @abc.abstractmethod
    def name(self) -> str:
        """The node's name, e.g. ``MulBackward0``."""

    @property
    @abc.abstractmethod
    def next_functions(self) -> tuple:
        """``((node, output_nr), ...)``: where this node sends the gradient of each input."""

    @property
    @abc.abstractmethod
    def metadata(self) -> dict:
        """A dict the user may fill."""

    @abc.abstractmethod
    def register_hook(self, fn: Callable) -> Any:
        """Run ``fn(grad_inputs, grad_outputs)`` after the node runs."""

    @abc.abstractmethod
    def register_prehook(self, fn: Callable) -> Any:
        """Run ``fn(grad_outputs)`` before the node runs."""


Node.register(_EmberNode)


class GradientEdge(NamedTuple):
    """A place in the graph a gradient flows into: input ``output_nr`` of ``node``."""

    node: Any
    output_nr: int
    ownership_token: Any = None

    # what the engine reads of a tensor it captures the gradient of (autograd.grad's inputs)
    @property
    def grad_fn(self):
        return self.node

    @property
    def _output_nr(self) -> int:
        return self.output_nr


def get_gradient_edge(tensor) -> GradientEdge:
    """The edge ``tensor``'s gradient flows into; usable as ``inputs=`` of ``autograd.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    if tensor.grad_fn is not None:
        return GradientEdge(tensor.grad_fn, tensor._output_nr)
    return GradientEdge(tensor._accumulator(), 0)


def increment_version(tensor) -> None:
    """Bump the version counter of a tensor (or each of an iterable of them), as an in-place write would."""
    from .._tensor import Tensor
    tensors = (tensor,) if isinstance(tensor, Tensor) else tensor
    if not isinstance(tensors, Iterable):
        raise RuntimeError("increment_version expect a Iterable[Tensor] as input")
    for t in tensors:
        t._vc[0] += 1


# ---------------------------------------------------------------- saved-tensor hooks

class _Local(threading.local):
    # as torch's, hooks and their disabling are per thread
    def __init__(self) -> None:
        self.stack: list = []        # the active saved_tensors_hooks, innermost last
        self.disabled: str | None = None  # disable_saved_tensors_hooks's message, while one is active
        # the backward passes running, innermost last, and the last to end: [number, roots, capture targets
        # or None, the nodes it runs (computed when first asked)], from autograd.backward/grad (_backward_pass)
        self.passes: list = []
        self.last_pass: list | None = None


_local = _Local()
_active = [0]  # contexts active in all threads: function.saved_hooks is set while this is above 0
_lock = threading.Lock()


def _count(delta: int) -> None:
    with _lock:
        _active[0] += delta
        _function.saved_hooks = _pack if _active[0] else None


class saved_tensors_hooks:
    """Within it, each tensor saved for backward goes through ``pack_hook`` and comes back through ``unpack_hook``.

    ``pack_hook(tensor)`` may return anything (a float16 copy, a file name); ``unpack_hook(packed)`` must
    return a tensor of the original's value. The innermost of nested contexts applies.
    """

    def __init__(self, pack_hook: Callable[[Any], Any], unpack_hook: Callable[[Any], Any]) -> None:
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self) -> "saved_tensors_hooks":
        if _local.disabled is not None:
            raise RuntimeError(_local.disabled)
        _local.stack.append(self)
        _count(1)
        return self

    def __exit__(self, *exc) -> None:
        _local.stack.remove(self)
        _count(-1)


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors in CPU memory: on ember's CPU tensors a no-op, or a copy with ``pin_memory=True``."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack(t):
            # torch's t.cpu() is t itself on the CPU; its pinned buffer is a copy
            return t.clone() if pin_memory else t

        super().__init__(pack, lambda t: t)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str):
    """Within it, registering saved-tensor hooks (or saving under active ones) raises RuntimeError(error_message)."""
    prev, _local.disabled = _local.disabled, error_message
    _count(1)  # so that ops saving under hooks registered outside reach _pack, which refuses
    try:
        yield
    finally:
        _local.disabled = prev
        _count(-1)


class _Saved:
    """One saved tensor as its pack hook returned it, with the history its unpacked form gets back."""

    __slots__ = ("packed", "kind", "grad_fn", "nr", "requires_grad", "accumulator")

    def __init__(self, packed, kind: str, t) -> None:
        # kind: "tensor" (an input), "array" (a built-in op's bare array) or "output" (the node's own result)
        self.packed, self.kind = packed, kind
        self.nr = t._output_nr
        self.requires_grad = t._requires_grad
        # an output's node is the node unpacking it: not held here, or a node would hold itself
        self.grad_fn = None if kind == "output" else t._grad_fn
        self.accumulator = t._accumulator() if self.requires_grad and t._grad_fn is None and kind == "tensor" else None


class _Packed:
    """A node's saved values while saved-tensor hooks packed them (in ``node._saved``, released as it is)."""

    __slots__ = ("items", "out", "unpack_hook")

    def __init__(self, items: tuple, out, unpack_hook) -> None:
        self.items, self.out, self.unpack_hook = items, out, unpack_hook

    def __iter__(self):
        return (s.packed if isinstance(s, _Saved) else s for s in self.items)

    def unpack(self, node) -> tuple:
        return tuple(self._one(s, node) if isinstance(s, _Saved) else s for s in self.items)

    def unpack_output(self, node):
        return self._one(self.out, node)

    def _one(self, s: _Saved, node):
        Tensor = _function.Tensor
        t = self.unpack_hook(s.packed)
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(t).__name__}")
        if s.kind == "array" or node._arrays:  # what the op saved, or the engine's array formulas read
            return t._data
        grad_fn = node if s.kind == "output" and s.requires_grad else s.grad_fn
        out = Tensor._make(t._data, s.requires_grad, grad_fn, s.nr)
        if s.accumulator is not None:  # a leaf: gradients through it (create_graph) reach the leaf's .grad
            out._accum_ref = weakref.ref(s.accumulator)
        return out


class _Refuse:
    """The hooks in effect under disable_saved_tensors_hooks: saving anything raises its message."""

    def __init__(self, message: str) -> None:
        self.message = message

    def pack_hook(self, t):
        raise RuntimeError(self.message)


def _pack(node, outputs) -> None:
    """Pass what ``node`` saved through the innermost pack hook of this thread (function.saved_hooks)."""
    stack = _local.stack
    if not stack:
        return
    hooks = stack[-1] if _local.disabled is None else _Refuse(_local.disabled)
    saved, out_data = node._saved, node._out_data
    if saved is None and out_data is None:
        return
    with no_grad():  # as torch's, pack hooks run outside grad mode
        items = tuple(_pack_one(hooks.pack_hook, s, outputs) for s in saved or ())
        out = None
        if out_data is not None:
            result = next((r for r in outputs if isinstance(r, _function.Tensor) and r._data is out_data), None)
            if result is None:  # (an array the op's setup chose to read as ctx.output)
                result = _function.Tensor._make(out_data, True, node)
            out = _pack_one(hooks.pack_hook, result, outputs, "output")
    node._saved = _Packed(items, out, hooks.unpack_hook)
    node._out_data = None


def _pack_one(pack_hook, s, outputs, kind: str = "tensor"):
    Tensor = _function.Tensor
    if isinstance(s, _function._OutputRef):  # a user Function's own output
        s, kind = outputs[s.nr], "output"
    elif type(s) is _function.ndarray:
        s, kind = Tensor._make(s), "array"
    elif not isinstance(s, Tensor):
        return s  # None, a number: kept as is
    version = s._vc[0]
    packed = pack_hook(s)
    if s._vc[0] != version:
        raise RuntimeError("A saved tensor pack hook is modifying its input in place. Tensors provided as input to "
                           "pack hook cannot be modified by in-place operations as this can lead to unexpected "
                           "side-effects. Please open an issue if you need to perform in-place operations on the input "
                           "to a pack hook.")
    return _Saved(packed, kind, s)


def _memory(t) -> int:
    """The id of the array that owns ``t``'s memory, shared by its views, detach()es and ``.data``."""
    a = t._data
    while isinstance(a.base, _function.ndarray):
        a = a.base
    return id(a)


class _SavedEntry:
    """What allow_mutation_on_saved_tensors packs: the saved tensor, and its copy once a write was coming."""
    __slots__ = ("tensor", "copy", "__weakref__")

    def __init__(self, tensor) -> None:
        self.tensor, self.copy = tensor, None


class _AllowMutation(saved_tensors_hooks):
    """Saved tensors are kept as they are, and copied only before an in-place write reaches their memory (as
    torch's clone-on-write), so backward sees the values they had when saved."""

    def __init__(self) -> None:
        super().__init__(self._keep, self._give)
        self.open = False
        # memory id -> the entries saved from it and not yet copied, held weakly: the graph owns them
        self.unwritten: dict = {}

    def _keep(self, t) -> _SavedEntry:
        entry = _SavedEntry(t)
        self.unwritten.setdefault(_memory(t), []).append(weakref.ref(entry))
        return entry

    def before_write(self, t) -> None:
        for ref in self.unwritten.pop(_memory(t), ()):
            entry = ref()
            if entry is not None:
                entry.copy = _function.Tensor._make(entry.tensor._data.copy())

    def _give(self, entry):
        if not self.open:
            # (torch's message, its missing space included)
            raise AssertionError("Trying to backward outside of the 'allow_mutation_on_saved_tensors' contextin which "
                                 "the graph was originally recorded.")
        return entry.tensor if entry.copy is None else entry.copy


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Within it, tensors saved for backward may be written in place: backward sees their values at save time.

    As torch's, a saved tensor is copied only when an in-place write is about to change its memory; run forward
    and backward inside the same context.
    """
    if any(isinstance(h, _AllowMutation) for h in _local.stack):
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutation()
    ctx.open = True
    _function.write_watchers.append(ctx.before_write)
    with ctx:
        try:
            yield ctx
        finally:
            ctx.open = False
            _function.write_watchers.remove(ctx.before_write)
            ctx.unwritten.clear()


# ---------------------------------------------------------------- hooks on several tensors

class _MultiHandle:
    """What register_multi_grad_hook returns: ``remove()`` takes off the hook from every tensor."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    def __enter__(self) -> "_MultiHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _node_of(t):
    """The node a tensor's gradient is computed for: its grad_fn, or a leaf's AccumulateGrad."""
    if t.grad_fn is not None:
        return t.grad_fn
    if t.requires_grad:
        return t._accumulator()
    raise AssertionError("Expected gradient function to be set")


def register_multi_grad_hook(tensors: Sequence, fn: Callable, *, mode: Literal["all", "any"] = "all") -> _MultiHandle:
    """Call ``fn`` once per backward pass over gradients of several tensors.

    ``mode="all"``: after the gradients of all of ``tensors`` that this pass computes, with the list of them
    (None for the others). ``mode="any"``: at the first of them, with that gradient.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    lock = threading.Lock()
    if mode == "any":
        last = [0]  # the number of the pass that last ran fn

        def any_hook(grad):
            number = _current_task()[0]
            with lock:
                if last[0] == number:
                    return
                last[0] = number
            fn(grad)

        return _MultiHandle(tuple(t.register_hook(any_hook) for t in tensors if t.requires_grad))

    nodes = [_node_of(t) for t in tensors]
    pending = {}  # pass number -> [gradients so far, calls expected, calls so far]

    def hook_for(i: int):
        def all_hook(grad):
            task = _current_task()
            with lock:
                state = pending.get(task[0])
                if state is None:
                    # torch checks every node, so a leaf anywhere in the list raises under autograd.grad
                    state = pending[task[0]] = [[None] * len(nodes), sum([_will_run(task, n) for n in nodes]), 0]
                state[0][i] = grad
                state[2] += 1
                done = state[2] == state[1]
                if done:
                    del pending[task[0]]
            if done:
                fn(state[0])
        return all_hook

    return _MultiHandle(tuple(t.register_hook(hook_for(i)) for i, t in enumerate(tensors) if t.requires_grad))


_pass_numbers = itertools.count(1).__next__


@contextlib.contextmanager
def _backward_pass(roots, inputs):
    """Mark a backward pass from tensors ``roots`` (capturing ``inputs``, or accumulating into leaves)."""
    targets = None if inputs is None else {_edge_of(t)[0] for t in inputs}
    task = [_pass_numbers(), roots, targets, None]
    _local.passes.append(task)
    try:
        yield
    finally:
        _local.passes.pop()
        # autograd.grad runs a leaf's hooks just after: they belong to this pass (its graph is not kept)
        _local.last_pass = [task[0], None, targets, None]


def _edge_of(t):
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)


def _current_task():
    if _local.passes:
        return _local.passes[-1]
    if _local.last_pass is None:
        raise AssertionError("expected this hook to be called inside a backward call")
    return _local.last_pass


def _will_run(task, node) -> bool:
    """Whether the backward pass ``task`` runs ``node`` (torch's _will_engine_execute_node)."""
    if task[2] is not None and type(node) is AccumulateGrad:
        raise RuntimeError("A leaf node was passed to _will_engine_execute_node but we are currently running "
                           "autograd.grad(). This is currently not supported.")
    if task[3] is None:
        from .engine import _needed_nodes
        starts = [_edge_of(r) for r in task[1]]
        if task[2] is None:
            reach, stack = {n for n, _ in starts}, [n for n, _ in starts]
            while stack:
                for nxt, _ in stack.pop().next_functions:
                    if nxt is not None and nxt not in reach:
                        reach.add(nxt)
                        stack.append(nxt)
            task[3] = reach
        else:
            task[3] = _needed_nodes(starts, task[2])
    return node in task[3]


__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "register_multi_grad_hook", "allow_mutation_on_saved_tensors"]
