"""Function: an op's forward and backward in one place, and the graph node (ctx) it records.

Built-in ops and user-defined Functions share this machinery. A call to
``Fn.apply`` runs ``forward``; when grad mode is on and an input requires grad
it also creates a node (``Fn._Node``, shown as e.g. ``MulBackward0``) that is
the ``ctx`` of both passes and the ``grad_fn`` of the outputs. The node holds
its inputs' edges (``next_functions``) and what ``save_for_backward`` kept,
but never its outputs, so the graph has no reference cycles.
"""
from __future__ import annotations

import functools
import itertools
import traceback

from .._backend import ndarray, xp
from .. import _complex32, _dtype
from .grad_mode import state, no_grad
from . import anomaly_mode

Tensor = None  # set by ember._tensor once the class exists (it imports this module)
refresh_view = None  # set by ember._ops.common: brings a view's history up to date (see there)
# forward AD (a dual level) or vmap, while active, handles every op: transform(cls, args, kwargs)
# runs in place of apply (see ember/autograd/forward_ad.py); None the rest of the time
transform = None
ctx_sink = None      # a list while forward AD wants the ctx of the user Function it is running
# pack(ctx, outputs) while some saved_tensors_hooks is active (ember/autograd/graph.py): it replaces what a
# recorded op saved by what the pack hook returns; None the rest of the time, so ops pay one check
saved_hooks = None

# creation order of nodes: a node is always numbered after the nodes of its inputs, which is
# the order the engine runs them in (backwards)
_next_seq = itertools.count(1).__next__
# the open allow_mutation_on_saved_tensors contexts: each is told of an in-place write before it happens
write_watchers: list = []

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
          "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
          "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
          "or if you need to access saved tensors after calling backward.")


class Node:
    """A node of the backward graph; also the ``ctx`` of its Function."""

    next_functions: tuple = ()
    _saved = None          # what save_for_backward kept; _RELEASED once backward has freed it
    _versions = None       # their versions at save time, to catch in-place changes
    _out_data = None       # the output's array, for ops that save their result
    _out_vc = None         # that output's version counter, and its version when saved
    _out_saved_version = 0
    _pre_hooks = None      # {output_nr: {handle id: hook}} from Tensor.register_hook on non-leaves
    _retain = None         # {output_nr: weakref to a tensor that called retain_grad()}
    _post_hooks = None
    _nout = 1
    _out_meta = None       # [(shape, dtype)] of outputs, to materialize missing grads
    _trace = None          # forward stack, kept in anomaly mode
    _in_meta = None        # [(shape, dtype)] of a user Function's inputs, to check its gradients
    _arrays = False        # set by the engine while an array_backward formula runs on raw arrays
    _seq = 0               # creation number (see _next_seq)
    _fast = False          # the backward the engine may run on raw arrays (an array_backward op, no hooks), or False
    materialize_grads = True
    _non_diff = ()
    _dirty = ()
    _fn = None
    _tangent = None        # under forward AD: the tangent of the output that backward reads as ctx.output
    _metadata = None

    def name(self) -> str:
        return type(self).__name__

    def __lt__(self, other) -> bool:  # only breaks ties in the engine's heap
        return id(self) < id(other)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    # -- the ctx interface of torch.autograd.Function --
    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for backward; an in-place change to any of them before backward is an error."""
        self._saved = tensors
        # each tensor's version now (None for anything else); a loop, not a comprehension: this runs for
        # most recorded ops
        versions = []
        for t in tensors:
            versions.append(t._vc[0] if isinstance(t, Tensor) else None)
        self._versions = versions

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is None:
            return ()
        if saved is _RELEASED:
            raise RuntimeError(_FREED)
        if type(saved) is not tuple:  # packed by saved_tensors_hooks: its unpack hook gives them back
            return saved.unpack(self)
        if self._arrays:  # an array_backward formula with no graph to build gets arrays
            arrays = []
            for t, v in zip(saved, self._versions):
                if v is None:
                    arrays.append(t)
                elif t._vc[0] == v:
                    arrays.append(t._data)
                else:
                    raise self._stale(t, v)
            return arrays
        for t, v in zip(saved, self._versions):
            if v is not None and t._vc[0] != v:
                raise self._stale(t, v)
        return self._unpack_outputs(saved)

    def _stale(self, t, v: int) -> RuntimeError:
        """The error for saved tensor ``t``, saved at version ``v``, changed in place since."""
        if isinstance(t, _OutputRef):
            return _modified_error(Tensor._make(t.data), self, t.nr, t._vc[0], v)
        return _modified_error(t, t.grad_fn, t._output_nr, t._vc[0], v)

    def _unpack_outputs(self, saved):
        return saved

    @property
    def output(self):
        """The op's own result, for ops whose backward is written with it (exp, tanh, sigmoid)."""
        if self._out_data is None:
            if self._saved is _RELEASED:
                raise RuntimeError(_FREED)
            if hasattr(self._saved, "unpack_output"):  # packed by saved_tensors_hooks
                return self._saved.unpack_output(self)
            raise RuntimeError(f"{self.name()} did not save its output")
        vc = self._out_vc
        if vc is not None and vc[0] != self._out_saved_version:
            raise _modified_error(Tensor._make(self._out_data), self, 0, vc[0], self._out_saved_version)
        if self._arrays:
            return self._out_data
        out = Tensor._make(self._out_data, True, self)
        if self._tangent is not None:  # its tangent, under forward AD
            out._tangent = self._tangent
        return out

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(fn is not None for fn, _ in self.next_functions)

    def save_for_forward(self, *tensors) -> None:
        """Keep tensors for ``jvp`` (forward-mode AD), where they read as ``ctx.saved_tensors``."""
        self._saved_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    @property
    def metadata(self) -> dict:
        """A dict for the user's own notes about this node, as torch's ``Node.metadata``."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn):
        """Run ``fn(grad_inputs, grad_outputs)`` after this node's backward."""
        if self._post_hooks is None:
            self._post_hooks = {}
            self._fast = False
        return _Handle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Run ``fn(grad_outputs)`` before this node's backward; it may return replacement grads."""
        return self._add_pre_hook(-1, fn)

    def _add_pre_hook(self, nr, fn):
        if self._pre_hooks is None:
            self._pre_hooks = {}
            self._fast = False
        return _Handle(self._pre_hooks.setdefault(nr, {}), fn)

    # -- engine side --
    def apply(self, *grads):
        """Run the backward of this node's Function on the output gradients."""
        return self._fn.backward(self, *grads)

    def _release(self) -> None:
        self._saved = _RELEASED
        self._out_data = None


def _modified_error(t, node, nr: int, version: int, expected: int) -> RuntimeError:
    """torch's error for a saved tensor changed in place after it was saved."""
    where = "" if node is None else f", which is output {nr} of {node.name().split('Backward')[0]},"
    hint = ("the backtrace further above shows the operation that failed to compute its gradient. The variable in "
            "question was changed in there or anywhere later. Good luck!" if anomaly_mode.enabled else
            "enable anomaly detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return RuntimeError("one of the variables needed for gradient computation has been modified by an inplace "
                        f"operation: [{t.type()} {list(t.shape)}]{where} is at version {version}; expected version "
                        f"{expected} instead. Hint: {hint}")


class _Released(tuple):
    """What a node's ``_saved`` holds after backward freed it (one store marks both), empty as nothing is kept."""


_RELEASED = _Released()


class _NoVersionCounter(list):
    """The version counter of an inference tensor: it has none, as in torch. Outside inference_mode
    reading it (saving the tensor for backward) is refused; writes to it are not counted."""

    def __getitem__(self, i):
        if not state.inference:
            raise RuntimeError(_INFERENCE_SAVED)
        return 0

    def __setitem__(self, i, value) -> None:
        pass


NO_VERSION = _NoVersionCounter([0])

_INFERENCE_SAVED = ('Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode '
                    'in computation tracked by autograd. To work around this, you can make a clone to get a normal tensor'
                    ' and use it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.')


class _Handle:
    """What register_hook returns: ``remove()`` takes this registration off (and only it: the same
    function registered twice has two handles)."""

    _next_id = itertools.count().__next__

    def __init__(self, hooks: dict, fn) -> None:
        self._hooks, self.id = hooks, _Handle._next_id()
        hooks[self.id] = fn

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> "_Handle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

    def __init__(self, variable) -> None:
        self.variable = variable
        self._seq = _next_seq()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"  # torch's C++ name


def _edge(a):
    """The (node, output_nr) edge a graph input contributes to ``next_functions``."""
    fn = a._grad_fn
    if fn is None:
        return (a._accumulator(), 0)
    return (fn, a._output_nr)


class _FunctionMeta(type):
    def __init__(cls, name, bases, ns) -> None:
        super().__init__(name, bases, ns)
        builtin = cls.__module__.startswith("ember.")
        node_base = Node if builtin else _UserNode
        # a user's Function that defines setup_context (it or a user base class): forward takes no ctx
        cls._setup_style = any("setup_context" in vars(b) for b in cls.__mro__ if not b.__module__.startswith("ember."))
        cls._Node = type(name + ("Backward0" if builtin else "Backward"), (node_base,),
                         {"_fn": cls, "__module__": cls.__module__,
                          "_fast": staticmethod(cls.backward) if getattr(cls, "array_backward", False) else False})
        # what Op.apply reads on every call, fetched in one lookup: reading an attribute of a class is not
        # specialised by Python 3.11 and costs about as much as a short line of the op
        cls._parts = (cls.forward, getattr(cls, "setup_context", None), cls._Node, getattr(cls, "saves_output", False))
        _claim_names(cls._Node)


# the instance attributes a node may get, forward's and the engine's (backward's release)
_NODE_NAMES = ("next_functions", "_seq", "_saved", "_versions", "_out_data", "_out_vc", "_out_saved_version",
               "_arrays", "_nout", "_out_meta", "_in_meta", "_metadata")


def _claim_names(node_cls) -> None:
    """Store every name of _NODE_NAMES once on a throwaway node of ``node_cls``. CPython keeps one table of
    attribute names per class, shared by its instances, and closes it to new names after a few dozen
    instances: a name first stored after that (the engine's release, at the first backward) gives every node
    from then on a dict of its own, about 10% of a small op's backward."""
    probe = node_cls.__new__(node_cls)
    for name in _NODE_NAMES:
        setattr(probe, name, None)


class Function(metaclass=_FunctionMeta):
    """Base class of differentiable operations, with torch.autograd.Function's interface.

    Subclass it and write ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as
    static methods; call it with ``MyFn.apply(*args)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """The tangents of the outputs from the tangents of the inputs (forward-mode AD)."""
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    # True when backward uses only what arrays and tensors share (operators, @, reshape, sum, mT,
    # sum_to, masked): then a plain backward (no create_graph) runs it on raw arrays, with no Tensor op per term
    array_backward = False

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on tensors (recorded as one node), as torch's Function.apply."""
        if transform is not None:
            return transform(cls, args, kwargs)
        for a in args:
            if isinstance(a, Tensor) and a._base is not None:
                refresh_view(a)
        record = state.enabled and any(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx = cls._Node() if record else _UserCtx()
        if ctx_sink is not None:
            ctx_sink.append(ctx)
        if record:  # before forward, which may read ctx.needs_input_grad
            ctx.next_functions = tuple(_edge(a) if isinstance(a, Tensor) and a._requires_grad else (None, 0)
                                       for a in args)
            ctx._seq = _next_seq()  # after the edges: a leaf's AccumulateGrad may just have been created
        else:
            ctx.needs_input_grad = (False,) * len(args)
        with no_grad():
            if cls._setup_style:  # torch 2's style: forward sees no ctx; setup_context fills it
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not record:
            return outputs
        ctx._in_meta = tuple((a.shape, a.dtype) if isinstance(a, Tensor) else None for a in args)
        if anomaly_mode.enabled:
            ctx._trace = traceback.format_stack()[:-1]
        non_diff = {id(t) for t in ctx._non_diff}
        dirty = {id(t) for t in ctx._dirty}
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        result, meta = [], []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                result.append(o)
                meta.append(None)
                continue
            diff = id(o) not in non_diff  # (before o may be replaced just below)
            if id(o) in inputs and id(o) not in dirty:
                o, alias = Tensor._make(o._data), o  # an input returned as is becomes a new node's output
                o._vc = alias._vc
                o._base = alias if alias._base is None else alias._base  # and a view of it, as torch's
            if id(o) in dirty:
                if o._requires_grad and o._grad_fn is None:
                    raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
                o._vc[0] += 1
            if diff and o.dtype._cat >= 2:  # floating or complex
                o._requires_grad = True
                o._grad_fn = ctx
                o._output_nr = i
                if o._base is not None and id(o) not in dirty:  # a write into it would bypass this backward
                    o._multi_view = (cls.__name__, i, _CUSTOM_VIEW)
            meta.append((o.shape, o.dtype))
            result.append(o)
        ctx._nout = len(outs)
        ctx._out_meta = meta
        if ctx._saved is not None:
            out_ids = {id(o): i for i, o in enumerate(result) if isinstance(o, Tensor)}
            ctx._saved_out = tuple(out_ids.get(id(t), -1) if t is not None else -1 for t in ctx._saved)
            if any(i >= 0 for i in ctx._saved_out):
                # keep outputs by their arrays only: a node must not hold its own outputs
                ctx._saved = tuple(_OutputRef(t, i, t._grad_fn is ctx) if i >= 0 else t
                                   for t, i in zip(ctx._saved, ctx._saved_out))
                ctx._versions = tuple(t._vc[0] if i >= 0 else v
                                      for t, v, i in zip(ctx._saved, ctx._versions, ctx._saved_out))
        if saved_hooks is not None:
            saved_hooks(ctx, result)
        return result[0] if single else tuple(result)


class _OutputRef:
    """An output saved by a user Function, kept as its array and version counter to avoid a cycle."""

    __slots__ = ("data", "nr", "diff", "_vc")

    def __init__(self, t, nr, diff) -> None:
        self.data, self.nr, self.diff, self._vc = t._data, nr, diff, t._vc


class _UserCtx:
    """The ctx a user Function's forward gets when nothing is recorded."""

    needs_input_grad = ()
    materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors) -> None:
        self._saved_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        for t in tensors:
            t._version += 1

    def mark_non_differentiable(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value) -> None:
        pass


class _UserNode(Node):
    """The node of a user Function: its saved outputs come back as tensors of this node."""

    def save_for_backward(self, *tensors) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):  # (built-in ops save arrays; users only tensors)
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        super().save_for_backward(*tensors)

    def _unpack_outputs(self, saved):
        return tuple(Tensor._make(s.data, s.diff, self if s.diff else None, s.nr) if isinstance(s, _OutputRef)
                     else s for s in saved)


class Op(Function):
    """A built-in op, written as torch writes Functions with ``setup_context``.

    ``forward(*args)`` computes on arrays: tensor arguments arrive as their arrays,
    others as they are, and it returns an array (or a tuple of arrays). Only when the
    call is recorded does ``setup_context(ctx, inputs, output)`` run, with the original
    arguments, to save what backward needs. ``backward(ctx, *grads)`` is written with
    ember ops, so under ``create_graph=True`` it is itself recorded and higher-order
    gradients need no extra code. With ``saves_output = True`` the result is available
    in backward as ``ctx.output``.
    """

    saves_output = False
    differentiable_outputs = None  # indices of outputs that carry gradient; None means all
    # jvp(inputs, output, *tangents): the output's tangent (forward AD), one tangent (or None) per
    # positional input; None derives it from backward (see ember/autograd/forward_ad.py)
    jvp = None
    # how vmap batches this op: a kind of rule ("elementwise", "dims", ...; KINDS in ember/func/_vmap.py);
    # None runs it once per sample
    batching = None

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @classmethod
    def apply(cls, *args):
        if transform is not None:  # a dual level or vmap is active
            return transform(cls, args, {})
        forward, setup, node_cls, saves_output = cls._parts
        record = False
        n = len(args)
        try:
            # a view's history may be stale after an in-place write into its memory: refresh_view
            if n == 1:  # the commonest arities, unrolled: this is the hottest path in ember
                a = args[0]
                if isinstance(a, Tensor):
                    if a._base is not None:
                        refresh_view(a)
                    record = a._requires_grad
                    out = forward(a._data)
                else:
                    out = forward(a)
            elif n == 2:  # (ra, rb: which operand needs grad, read again for the edges below)
                a, b = args
                ra = rb = False
                if isinstance(a, Tensor):
                    if a._base is not None:
                        refresh_view(a)
                    ra = a._requires_grad
                    a = a._data
                if isinstance(b, Tensor):
                    if b._base is not None:
                        refresh_view(b)
                    rb = b._requires_grad
                    b = b._data
                record = ra or rb
                out = forward(a, b)
            else:
                arrays = []
                for a in args:
                    if isinstance(a, Tensor):
                        if a._base is not None:
                            refresh_view(a)
                        arrays.append(a._data)
                        if a._requires_grad:
                            record = True
                    else:
                        arrays.append(a)
                out = forward(*arrays)
        except ValueError as e:
            raise _translate(cls, args, e) from None
        except TypeError as e:  # NumPy has no arithmetic for complex32's records: computed in complex64, or refused
            return _complex32.retry(cls, args, e)
        if not (record and state.enabled):
            if type(out) is ndarray:
                result = Tensor._make(out)
                if out.base is not None:
                    _link_view(result, args)
                if state.inference:
                    _mark_inference(result)
                return result
            results = _link_views(_wrap(out), args)
            if state.inference:
                _mark_inference(*(results if type(results) is tuple else (results,)))
            return results
        ctx = node_cls()
        if n == 1:  # _edge inlined and unrolled: this runs for every recorded op
            a = args[0]
            fn = a._grad_fn
            ctx.next_functions = ((fn, a._output_nr) if fn is not None else (a._accumulator(), 0),)
        elif n == 2:
            a, b = args
            # a weight's AccumulateGrad comes from its weak reference here, not a call to _accumulator
            if ra:
                fn = a._grad_fn
                if fn is not None:
                    a = (fn, a._output_nr)
                else:
                    fn = a._accum_ref() if a._accum_ref is not None else None
                    a = (fn if fn is not None else a._accumulator(), 0)
            else:
                a = _NO_EDGE
            if rb:
                fn = b._grad_fn
                if fn is not None:
                    b = (fn, b._output_nr)
                else:
                    fn = b._accum_ref() if b._accum_ref is not None else None
                    b = (fn if fn is not None else b._accumulator(), 0)
            else:
                b = _NO_EDGE
            ctx.next_functions = (a, b)
        else:
            edges = []
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    fn = a._grad_fn
                    edges.append((fn, a._output_nr) if fn is not None else (a._accumulator(), 0))
                else:
                    edges.append(_NO_EDGE)
            ctx.next_functions = tuple(edges)
        ctx._seq = _next_seq()  # after the edges: a leaf's AccumulateGrad may just have been created
        if setup is not _no_setup:
            setup(ctx, args, out)
        if anomaly_mode.enabled:
            ctx._trace = traceback.format_stack()[:-1]
        if type(out) is ndarray:
            pass
        elif type(out) is tuple:
            diff = cls.differentiable_outputs
            results, meta = [], []
            for i, o in enumerate(out):
                if type(o) is not ndarray:
                    o = xp.asarray(o)
                if diff is None or i in diff:
                    meta.append((o.shape, _dtype.from_np(o.dtype)))
                    r = Tensor._make(o, True, ctx, i)
                else:  # never given a gradient, so none to make of zeros either (see engine._call)
                    meta.append(None)
                    r = Tensor._make(o)
                if o.base is not None:
                    _link_view(r, args)
                    if r._base is not None:  # one of several views (unbind, split): never to be written in place
                        r._multi_view = (ctx.name().replace("Backward0", ""), i)
                results.append(r)
            results = tuple(results)
            ctx._nout = len(out)
            ctx._out_meta = meta
            if ctx._out_data is not None:  # setup_context saved one of the outputs
                for r in results:
                    if r._data is ctx._out_data:
                        ctx._out_vc, ctx._out_saved_version = r._vc, r._vc[0]
            if saved_hooks is not None:
                saved_hooks(ctx, results)
            return results
        else:
            out = xp.asarray(out)
        result = _new(Tensor)  # Tensor._make, inlined
        result._data = out
        result._requires_grad = True
        result._grad_fn = ctx
        result._output_nr = 0
        result._vc = [0]
        if out.base is not None:
            _link_view(result, args)
        if saves_output:
            ctx._out_data = out
            ctx._out_vc = vc = result._vc
            if vc[0]:  # (a new array's version is 0, the class default: one store less)
                ctx._out_saved_version = vc[0]
        if saved_hooks is not None:
            saved_hooks(ctx, (result,))
        return result


_new = object.__new__


def _root(a):
    """The array that owns ``a``'s memory."""
    while isinstance(a.base, ndarray):
        a = a.base
    return a


def _link_view(result, args) -> None:
    """Mark ``result`` as a view of the input whose memory it shares: it takes that input's version
    counter, and an in-place op on either updates the other's history (torch's view semantics)."""
    root = _root(result._data)
    for a in args:
        if isinstance(a, Tensor) and _root(a._data) is root:
            result._base = a._base if a._base is not None else a
            result._vc = a._vc
            if a._vc is not NO_VERSION:
                result._view_version = a._vc[0]
                if not state.enabled and result._base._requires_grad:
                    result._view_no_grad = True  # may not see a later write in grad mode (see refresh_view)
                    result._requires_grad = True  # as torch's, though its gradient goes nowhere (no accumulator)
            return


def _mark_inference(*results) -> None:
    """Tensors made in inference_mode (other than views of normal tensors) are inference tensors."""
    for r in results:
        if r._base is None:
            r._vc = NO_VERSION


def _link_views(results, args):
    if type(results) is tuple:
        for r in results:
            if r._data.base is not None:
                _link_view(r, args)
    elif results._data.base is not None:
        _link_view(results, args)
    return results


_NO_EDGE = (None, 0)
_no_setup = Op.setup_context  # ops that save nothing skip the call


def _translate(cls, args, e: ValueError) -> Exception:
    """NumPy's broadcasting ValueError, reworded as torch's RuntimeError naming the op."""
    if "broadcast" not in str(e):
        return e
    from .._ops.common import broadcast_error
    return broadcast_error(cls.__name__.lower(), *[tuple(a.shape) for a in args if hasattr(a, "shape")])


def _wrap(out):
    if type(out) is tuple:
        return tuple(Tensor._make(o if type(o) is ndarray else xp.asarray(o)) for o in out)
    return Tensor._make(out if type(out) is ndarray else xp.asarray(out))


_CUSTOM_VIEW = ("This view was created inside a custom Function (or because an input was returned as-is) and the "
                "autograd logic to handle view+inplace would override the custom backward associated with the custom "
                "Function, leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning "
                "the output of the custom Function.")


def once_differentiable(fn):
    """Run a Function's backward without recording; differentiating its result again raises, as torch's."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not state.enabled or not any(isinstance(a, Tensor) and a._requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        # leaves that require grad, so that _DelayedError records a node for them to hang from
        outs = [o.detach().requires_grad_() if isinstance(o, Tensor) and o.dtype._cat >= 2 else o
                for o in ((outputs,) if single else outputs)]
        outputs = _DelayedError.apply(*outs)
        return outputs[0] if single else outputs
    return wrapper


class _DelayedError(Function):
    """The gradients of a once_differentiable backward under create_graph: their own backward raises."""

    @staticmethod
    def forward(ctx, *grads):
        return tuple(g.clone() if isinstance(g, Tensor) else g for g in grads)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")


class BackwardCFunction(Node):
    pass


FunctionCtx = Node
