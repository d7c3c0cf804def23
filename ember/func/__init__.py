"""Function transforms, as torch.func: grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call.

Each transform takes a function and returns a function. Reverse-mode transforms (grad, vjp,
jacrev) run the function on fresh leaves and call ``autograd.grad`` with ``create_graph=True``,
so their results stay differentiable and they compose (``grad(grad(f))``, ``jacfwd(jacrev(f))``).
Forward-mode ones (jvp, jacfwd) run it on dual tensors (``ember.autograd.forward_ad``).
``vmap`` (in ``_vmap.py``) moves a batch dimension through each op by rule. See docs/func.md.
"""
from __future__ import annotations

import contextlib
import functools
import weakref

from .._backend import xp as _xp
from .._tensor import Tensor
from ..autograd import forward_ad as fwAD
from ..autograd import grad as _autograd_grad
from ..autograd.function import AccumulateGrad
from ..autograd.grad_mode import enable_grad
from ._tree import flatten, tree_map, unflatten
from . import _vmap
from ._vmap import vmap
from .. import linalg as _linalg
from .._ops.common import FUNCTIONS as _FUNCTIONS

_vmap.install_loops([_FUNCTIONS, __import__("sys").modules["ember"], _linalg, Tensor])

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call",
           "stack_module_state", "linearize", "replace_all_batch_norm_modules_"]

_depth = [0]  # how many reverse-mode transforms are running, one inside the other


@contextlib.contextmanager
def _level():
    _depth[0] += 1
    try:
        with enable_grad():
            yield
    finally:
        _depth[0] -= 1


def _lift(tree, keep: bool):
    """Fresh tensors to differentiate with respect to; tied to the originals' graph when ``keep``."""
    def leaf(x):
        if not isinstance(x, Tensor):
            return x
        if not x.is_floating_point():
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        # inside vmap: batched over every level, for per-sample gradients
        leaf = _vmap.batched_leaf(x, keep and x.requires_grad)
        if leaf is not None:
            return leaf
        if keep and x.requires_grad:
            return x.view_as(x)
        fresh = x.detach().requires_grad_(True)
        fresh._func_lifted = True  # a transform's own leaf: never "outside" to an enclosing one (see _outer)
        if x._tangent is not None:  # under forward AD (jacfwd of jacrev): the tangent stays
            fwAD._set(fresh, x._tangent)
        return fresh
    return tree_map(leaf, tree)


def _select(args: tuple, argnums, name: str):
    """The argument(s) that ``argnums`` names, checked as torch checks them."""
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise RuntimeError(f"{name}: argnums must be non-empty")
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: {type(n).__name__}")
        if not -len(args) <= n < len(args):
            raise RuntimeError(f"Got argnum={n}, but only {len(args)} positional inputs")
    return [n % len(args) for n in nums]


def _finish(tree, keep: bool, own=()):
    """Results as torch.func gives them: detached unless an enclosing transform or graph needs them, or
    they depend on a tensor from outside that requires grad (see _outer)."""
    if keep:
        return tree
    return tree_map(lambda t: t.detach() if isinstance(t, Tensor) and not _outer([t], own) else t, tree)


def _outer(tensors, own) -> bool:
    """Whether the graph of ``tensors`` reaches a tensor requiring grad other than ``own`` (the
    transform's lifted inputs): one from outside, such as a parameter the function closes over,
    with respect to which torch.func's results stay differentiable."""
    own = {id(_vmap.physical(x)) for x in own}
    stack, seen = [], set()
    for t in tensors:
        t = _vmap.physical(t)
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad and id(t) not in own and not getattr(t, "_func_lifted", False):
            return True
    while stack:
        node = stack.pop()
        if type(node) is AccumulateGrad:
            if id(node.variable) not in own and not getattr(node.variable, "_func_lifted", False):
                return True
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _keep(*trees) -> bool:
    """Whether results must stay in the graph: inside another transform, or inputs that require grad."""
    return _depth[0] > 0 or fwAD._level is not None or any(
        isinstance(x, Tensor) and (x.requires_grad or x._tangent is not None) for t in trees for x in flatten(t)[0])


def _split_aux(out, has_aux: bool, name: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{name}(f, ...): output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _grads(outputs, inputs, cotangents, keep: bool = True):
    """``autograd.grad`` with zeros for inputs the outputs do not reach (on the physical tensors inside vmap).
    The backward is recorded (``create_graph``) only where something may differentiate the result: an
    enclosing transform or graph (``keep``), or a tensor from outside in the outputs' graph."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        return [x.detach() * 0 for x in inputs]
    outs = [_vmap.physical(o) for o, _ in pairs]
    cots = [_vmap.cotangent(c, o) for o, c in pairs]
    create = keep or _outer(outs, inputs)
    with fwAD.below(_vmap._apply):
        gs = _autograd_grad(outs, [_vmap.physical(x) for x in inputs], cots, create_graph=create, allow_unused=True)
    return [x.detach() * 0 if g is None else _vmap.rewrap(g, x) for x, g in zip(inputs, gs)]


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """A function returning ``(gradient, value)`` of ``func`` with respect to the ``argnums`` arguments."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _select(args, argnums, "grad_and_value")
        keep = _keep(args)
        with _level():
            args = list(args)
            for n in nums:
                args[n] = _lift(args[n], True)
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value")
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}")
            if out.ndim != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                   "instead?")
            leaves, spec = flatten([args[n] for n in nums])
            gs = unflatten(_grads([out], leaves, [None], keep), spec)
        g = gs[0] if not isinstance(argnums, tuple) else tuple(gs)
        value = out if aux is None else (out, aux)
        return _finish((g, value), keep, leaves)
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """The gradient of a function returning a scalar, as a function (torch.func.grad)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives the vector-Jacobian products."""
    keep = _keep(primals)
    with _level():
        primals = _lift(primals, True)
        out, aux = _split_aux(func(*primals), has_aux, "vjp")
    out_leaves, out_spec = flatten(out)
    in_leaves, in_spec = flatten(primals)

    def vjp_fn(*cotangents):
        cots = cotangents[0] if len(cotangents) == 1 and not isinstance(out, tuple) else cotangents
        c_leaves, c_spec = flatten(cots)
        if len(c_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               "outputs to the function")
        for o, c in zip(out_leaves, c_leaves):
            if tuple(o.shape) != tuple(c.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(c.shape)} and output[0] "
                                   f"has a shape of {tuple(o.shape)}.")
        with _level():
            gs = _grads(out_leaves, in_leaves, c_leaves, keep or _keep(c_leaves))
        return _finish(unflatten(gs, in_spec), keep or _keep(c_leaves), in_leaves)

    result = (_finish(out, keep, in_leaves), vjp_fn)
    return result + (_finish(aux, keep, in_leaves),) if has_aux else result


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J tangents)`` by forward-mode AD."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples. E.g. it is valid "
                           "to call f(*primals).")
    p_leaves, spec = flatten(primals)
    t_leaves, _ = flatten(tangents)
    if len(p_leaves) != len(t_leaves):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           "structure.")
    for p, t in zip(p_leaves, t_leaves):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same shape, "
                               f"got {tuple(p.shape)} and {tuple(t.shape)}.")
    if fwAD._level is not None:  # one dual level at a time: a nested jvp by the transpose trick
        return _jvp_by_vjp(func, primals, tangents, has_aux)
    keep = _keep(primals, tangents)
    with fwAD._transform_level():
        duals = unflatten([fwAD.make_dual(p, t) for p, t in zip(p_leaves, t_leaves)], spec)
        out, aux = _split_aux(func(*duals), has_aux, "jvp")
        pairs = [fwAD.unpack_dual(o) for o in flatten(out)[0]]
        o_spec = flatten(out)[1]
        prim = unflatten([p for p, _ in pairs], o_spec)
        tan = unflatten([t if t is not None else p.detach() * 0 for p, t in pairs], o_spec)
    result = _finish((prim, tan), keep)
    return result + (_finish(aux, keep),) if has_aux else result


def _jvp_by_vjp(func, primals, tangents, has_aux: bool):
    """``J t`` as the gradient with respect to ``u`` of ``<vjp(u), t>`` (two reverse passes)."""
    out, vjp_fn, *aux = vjp(func, *primals, has_aux=has_aux)
    outs, spec = flatten(out)
    with _level():
        us = [o.detach() * 0 for o in outs]
        for u in us:
            u.requires_grad_(True)
        vs = flatten(vjp_fn(unflatten(us, spec) if isinstance(out, tuple) else us[0]))[0]
        inner = sum((v * t).sum() for v, t in zip(vs, flatten(tangents)[0]))
        jts = _grads([inner], us, [None])
    return (out, unflatten(jts, spec), *aux)


def linearize(func, *primals):
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the Jacobian at ``primals`` times the tangents."""
    out = func(*primals)
    return out, lambda *tangents: jvp(func, primals, tangents)[1]


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None):
    """The Jacobian of ``func`` by reverse mode: one vector-Jacobian product per output element."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        nums = _select(args, argnums, "jacrev")
        keep = _keep(args)
        if not (has_aux or keep or _vmap._levels):
            try:
                return _jacrev_batched(func, args, nums, argnums, chunk_size)
            except (RuntimeError, NotImplementedError, ValueError, _vmap.NoRule):
                pass  # an op vmap cannot batch: one backward pass per output element instead
        with _level():
            args = list(args)
            for n in nums:
                args[n] = _lift(args[n], True)
            out, aux = _split_aux(func(*args), has_aux, "jacrev")
            outs, o_spec = flatten(out)
            ins = flatten([args[n] for n in nums])[0]
            rows = []  # rows[k][j]: d outs[k] / d ins[j], of shape outs[k].shape + ins[j].shape
            for o in outs:
                flat = o.reshape(-1)
                per = [[] for _ in ins]
                for i in range(flat.shape[0]):
                    for j, g in enumerate(_grads([flat[i]], ins, [None])):
                        per[j].append(g)
                rows.append([_stack(p, o.shape, x) for p, x in zip(per, ins)])
        jac = unflatten([_per_input(r, args, nums, argnums) for r in rows], o_spec)
        return _finish((jac, aux) if has_aux else jac, keep, ins)
    return wrapper


class _Resize(Exception):
    """The output has another number of elements than the basis was made for."""


# func -> {its tensor arguments' shapes and dtypes: the number of elements of its output}, as last seen
_out_sizes = weakref.WeakKeyDictionary()


def _jacrev_batched(func, args, nums, argnums, chunk_size):
    """All the rows of the Jacobian of a one-tensor output from one batched forward and one backward.

    Row i is the vector-Jacobian product with the basis vector e_i. Inside a vmap level of one
    sample per row, the differentiated inputs are lifted (one broadcast copy per row), ``func``
    runs once on that batch, and one backward pass, whose cotangent is the basis itself (the
    identity), gives every row at once. The batch must be the output's size, known only after
    ``func`` has run: the size seen at the last call with these argument shapes is tried (a call
    whose output differs runs again), else a forward without graph finds it."""
    from .. import cat
    from ..autograd.grad_mode import no_grad
    key = tuple((tuple(x.shape), x.dtype) for x in flatten(list(args))[0] if isinstance(x, Tensor))
    try:
        sizes = _out_sizes.setdefault(func, {})
    except TypeError:  # a function that takes no weak reference: nothing remembered
        sizes = {}
    if key not in sizes:
        with no_grad():
            out = func(*args)
        if not isinstance(out, Tensor):
            raise RuntimeError("jacrev: the output is not a single tensor")  # the general path handles trees
        sizes[key] = out.numel()
    for _ in range(2):
        n = sizes[key]
        if n == 0:
            raise RuntimeError("jacrev: an empty output")  # nothing to batch: the general path
        step = chunk_size or n
        try:
            parts = [_basis_rows(func, args, nums, n, i, min(i + step, n)) for i in range(0, n, step)]
        except _Resize as r:
            sizes[key] = r.args[0]
            continue
        leaves = flatten([args[k] for k in nums])[0]
        blocks = [(rows[0] if len(rows) == 1 else cat(rows)).reshape(*parts[0][0], *x.shape)
                  for rows, x in zip(zip(*[p[1] for p in parts]), leaves)]
        return _finish(_per_input(blocks, args, nums, argnums), False, [x for p in parts for x in p[2]])
    raise RuntimeError("jacrev: the output's size changed between calls")


def _basis_rows(func, args, nums, n: int, start: int, stop: int):
    """The output's shape, the vector-Jacobian products with the basis vectors ``start:stop`` of an
    output of ``n`` elements (physical tensors, one row per basis vector in front), and the lifted inputs."""
    with _vmap.batching(stop - start) as level, _level(), _vmap.strict():
        args = list(args)
        for k in nums:
            args[k] = _lift(args[k], True)  # inside the level: batched over the rows
        out = func(*args)
        if not isinstance(out, Tensor):
            raise RuntimeError("jacrev: the output is not a single tensor")  # the general path handles trees
        if out.numel() != n:
            raise _Resize(out.numel())
        basis = _vmap.from_array(_xp.eye(n, dtype=out._data.dtype)[start:stop].reshape(-1, *out.shape), level)
        lifted = flatten([args[k] for k in nums])[0]
        gs = _grads([out], lifted, [basis], False)
        return tuple(out.shape), [_vmap.physical(g) for g in gs], lifted


def _stack(parts, out_shape, x):
    from .. import stack, zeros
    if not parts:
        return zeros(*out_shape, *x.shape, dtype=x.dtype)
    return stack(parts).reshape(*out_shape, *x.shape)


def _per_input(blocks, args, nums, argnums):
    """One output's Jacobian blocks grouped as the differentiated arguments are (a tree per argument)."""
    it = iter(blocks)
    per_arg = [unflatten([next(it) for _ in flatten(args[n])[0]], flatten(args[n])[1]) for n in nums]
    return tuple(per_arg) if isinstance(argnums, tuple) else per_arg[0]


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func`` by forward mode: one Jacobian-vector product per input element."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _select(args, argnums, "jacfwd")
        leaves, spec = flatten([args[n] for n in nums])
        for i, x in enumerate(leaves):
            if x.is_complex():
                raise RuntimeError("jacfwd: Expected all inputs to be real but received complex tensor at "
                                   f"flattened input idx: {i}")
            if not x.is_floating_point():
                raise ValueError(f"Expected primal to be floating point or complex, but got: {x.dtype}")
        from .. import eye, stack

        def at(*values):
            new = list(args)
            for n, v in zip(nums, values):
                new[n] = v
            return func(*new)

        cols, out, aux = [[] for _ in leaves], None, None  # cols[j]: tangent outputs per element of leaves[j]
        for j, x in enumerate(leaves):
            basis = eye(x.numel(), dtype=x.dtype)
            for i in range(x.numel()):
                tangents = [basis[i].reshape(x.shape) if k == j else y.detach() * 0 for k, y in enumerate(leaves)]
                res = jvp(at, tuple(unflatten(leaves, spec)), tuple(unflatten(tangents, spec)), has_aux=has_aux)
                out, tan = res[0], res[1]
                aux = res[2] if has_aux else None
                cols[j].append(flatten(tan)[0])
        outs, o_spec = flatten(out)
        blocks = []
        for k, o in enumerate(outs):
            per = []
            for j, x in enumerate(leaves):
                if cols[j]:
                    per.append(stack([c[k] for c in cols[j]], dim=-1).reshape(*o.shape, *x.shape))
                else:
                    per.append(o.new_zeros(*o.shape, *x.shape))
            blocks.append(per)
        jac = unflatten([_per_input(b, args, nums, argnums) for b in blocks], o_spec)
        return (jac, aux) if has_aux else jac
    return wrapper


def hessian(func, argnums=0):
    """The Hessian of a scalar function: ``jacfwd(jacrev(func))``."""
    return jacfwd(jacrev(func, argnums), argnums)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """Call ``module`` with the given tensors in place of its parameters and buffers, restoring them after."""
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) \
        else (parameter_and_buffer_dicts,)
    given = {}
    for d in dicts:
        dup = [k for k in d if k in given]
        if dup:
            raise ValueError(f"{dup} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        given.update(d)
    names = {}  # every name of each parameter and buffer (tied weights have several)
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for store in ("_parameters", "_buffers"):
            for n, t in sub.__dict__[store].items():
                if t is not None:
                    names.setdefault(id(t), []).append((prefix + "." + n if prefix else n, sub, store, n))
    if tie_weights:
        for group in names.values():
            hits = [full for full, *_ in group if full in given]
            for full, *_ in group:
                if hits and full not in given:
                    given[full] = given[hits[0]]
    if strict:
        known = {full for group in names.values() for full, *_ in group}
        unexpected = [k for k in given if k not in known]
        missing = [k for k in sorted(known, key=list(known).index) if k not in given]
        if unexpected or missing:
            msg = f"Error(s) in reparametrizing for {type(module).__name__}:"
            if unexpected:
                msg += "\n\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + "."
            if missing:
                msg += "\n\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + "."
            raise RuntimeError(msg)
    swapped = []
    try:
        for group in names.values():
            for full, sub, store, n in group:
                if full in given:
                    swapped.append((sub.__dict__[store], n, sub.__dict__[store][n]))
                    sub.__dict__[store][n] = given[full]
        args = () if args is None else args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for store, n, old in reversed(swapped):
            store[n] = old


def replace_all_batch_norm_modules_(root):
    """Stop every BatchNorm in ``root`` tracking running statistics (their buffers become None), in place."""
    from ..nn.modules.batchnorm import _BatchNorm
    for m in root.modules():
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = m.running_var = m.num_batches_tracked = None
            m.track_running_stats = False
    return root


def stack_module_state(models) -> tuple[dict, dict]:
    """The parameters and buffers of same-shaped models, each stacked along a new first dim."""
    from .. import stack
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    names = [n for n, _ in models[0].named_parameters()]
    params = {n: stack([dict(m.named_parameters())[n].detach() for m in models]).requires_grad_(
        dict(models[0].named_parameters())[n].requires_grad) for n in names}
    buffers = {n: stack([dict(m.named_buffers())[n] for m in models]) for n, _ in models[0].named_buffers()}
    return params, buffers
