"""DistributedDataParallel: one model per process, gradients averaged over the processes in buckets.

Each parameter's post-accumulate-grad hook copies its gradient into its bucket's flat buffer;
when every gradient of a bucket is in, the bucket's all-reduce starts, non-blocking, while
backward goes on to the layers before it. The last gradient to arrive waits for all buckets
and writes the averages back into ``.grad``, so ``backward()`` returns with them in place.
Buckets are filled in reverse parameter order, as torch does, since backward produces gradients
roughly in that order; they are started strictly in bucket order so that every rank issues the
same collectives in the same order. A communication hook (``register_comm_hook``) replaces the
all-reduce of a bucket; ``join()`` lets ranks with fewer batches shadow the others' collectives.
"""
from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..._backend import xp
from ..._tensor import Tensor, device
from ...autograd.function import AccumulateGrad
from ...autograd.grad_mode import no_grad, state as _grad_state
from ... import distributed as dist
from ...distributed.algorithms.join import Join, Joinable, JoinHook, _DISABLED as _DISABLED_JOIN
from ...distributed.grad_bucket import GradBucket
from ...distributed.process_group import _RepeatedSum
from ...futures import Future
from ..modules.module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's first bucket is small, so that the first all-reduce starts early
_DEFAULT_BUCKET_MB = 25


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype, and its reduction in flight."""

    def __init__(self, index: int, indices: list[int], params: list) -> None:
        self.index, self.indices = index, indices
        self.params = [params[i] for i in indices]
        self.slots = []
        offset = 0
        for p in self.params:
            self.slots.append((offset, p.numel()))
            offset += p.numel()
        self.flat = xp.zeros(offset, self.params[0]._data.dtype)
        self.buffer = Tensor._make(self.flat)
        # each parameter's place in the buffer, shaped like it, made once: a step slices nothing
        self.views = [self.flat[o:o + n].reshape(p._data.shape) for p, (o, n) in zip(self.params, self.slots)]
        self.pending, self.work = len(indices), None  # work: a Work (no hook) or the hook's Future
        self.sum = None  # the bucket's all-reduce, set up once (_RepeatedSum)


def _bucket_assignment(params: list, cap_bytes: int, first_bytes: int) -> list[list[int]]:
    """Parameter indices per bucket: reverse parameter order, one dtype per bucket, the first one small."""
    open_, limits, done = {}, {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = p.dtype
        bucket = open_.setdefault(key, [[], 0])
        bucket[0].append(i)
        bucket[1] += p.numel() * p.element_size()
        if bucket[1] >= limits.get(key, first_bytes):
            done.append(bucket[0])
            limits[key] = cap_bytes
            del open_[key]
    done.extend(b[0] for b in open_.values())
    return sorted(done, key=lambda b: -b[0])  # in the order backward fills them


def _tensors_in(obj) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _reached_leaves(outputs) -> set[int]:
    """ids of the leaf tensors that the outputs' graph reaches (the parameters backward will visit)."""
    reached, seen = set(), set()
    stack = []
    for t in _tensors_in(outputs):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            reached.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            reached.add(id(node.variable))
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
    return reached


def _broadcast_coalesced(tensors: list[Tensor], group, src: int = 0) -> None:
    """Copy rank ``src``'s values of ``tensors`` to every rank, one broadcast per dtype."""
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    mine = dist.get_rank(group) == src
    for ts in by_dtype.values():
        flat = xp.concatenate([t._data.reshape(-1) for t in ts])
        dist.broadcast(Tensor._make(flat), src=dist.get_global_rank(group, src), group=group)
        if mine:
            continue
        offset = 0
        for t in ts:
            n = t._data.size
            t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
            t._version += 1
            offset += n


class DistributedDataParallel(Module, Joinable):
    """Data parallelism over processes: each rank runs ``module`` on its share of the batch, and
    ``backward()`` leaves every rank with the gradients averaged over all ranks.

    Args:
        module: the model; rank 0's parameters and buffers are copied to every rank here.
        broadcast_buffers: copy rank 0's buffers (batch-norm statistics) to every rank before each forward.
        process_group: the ranks to average over (default: all).
        bucket_cap_mb: bucket size in MiB (default: 25, with a first bucket of 1 MiB; a size given is every bucket's).
        find_unused_parameters: let parameters that the output does not depend on take part
            (their gradient counts as zero on the ranks that did not use them).
        gradient_as_bucket_view: ``.grad`` becomes a view of the bucket (saves a copy).

    A second backward through the same forward (``retain_graph=True``) accumulates this rank's
    own gradients without averaging them, as torch's DDP does.

    Example::

        >>> dist.init_process_group("mpi")
        >>> model = DistributedDataParallel(Net())
        >>> loss_fn(model(x_shard), y_shard).backward()   # .grad: averaged over ranks
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        if device_ids is not None or output_device is not None:
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                             f"GPU modules; ember runs on the CPU, so pass neither (got device_ids={device_ids}, "
                             f"output_device={output_device})")
        self.module = module
        self.process_group = process_group if process_group is not None else dist.GroupMember.WORLD
        dist.get_world_size(self.process_group)  # raises unless init_process_group ran
        self.dim, self.broadcast_buffers = dim, broadcast_buffers
        self.find_unused_parameters, self.gradient_as_bucket_view = find_unused_parameters, gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        if not self._params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._buffers_to_sync = list(module.buffers())
        if init_sync:
            with no_grad():
                _broadcast_coalesced(list(module.parameters()) + self._buffers_to_sync, self.process_group)
        cap = int((_DEFAULT_BUCKET_MB if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        first = _FIRST_BUCKET_BYTES if bucket_cap_mb is None else cap  # as torch: a size given is every bucket's
        self._buckets = [_Bucket(k, ix, self._params)
                         for k, ix in enumerate(_bucket_assignment(self._params, cap, first))]
        self._where = [None] * len(self._params)
        for b in self._buckets:
            for i, view in zip(b.indices, b.views):
                self._where[i] = (b, view)
        for b in self._buckets:  # every rank makes them in bucket order, as collectives must be
            b.sum = _RepeatedSum(b.buffer, self.process_group)
        self._comm_hook = None  # (state, hook) once register_comm_hook ran
        self._world = dist.get_world_size(self.process_group)
        self._scale = 1.0 / self._world  # gradients are divided as they enter the bucket, as torch's
        self._join_config = _DISABLED_JOIN
        self._divide_by_initial_world_size = True
        self._pass = _Pass(len(self._params))
        self._used = xp.zeros(len(self._params), xp.int32)
        for i, p in enumerate(self._params):
            p.register_post_accumulate_grad_hook(self._grad_hook(i))

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync = _grad_state.enabled and self.require_backward_grad_sync
        if sync and self._pass.started:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`ember.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        joining = self._join_config.enable
        if joining:  # the collectives a joined rank's _DDPJoinHook.main_hook shadows, in the same order
            notice = Join.notify_join_context(self)
            if notice is not None:
                notice.wait()
                if not self._divide_by_initial_world_size:
                    self._scale = 1.0 / float(notice.result()[0]._data[0])  # the ranks still training
        if self.require_forward_param_sync and self.broadcast_buffers and self._buffers_to_sync:
            root = self._find_common_rank(dist.get_rank(self.process_group), True) if joining else 0
            with no_grad():
                _broadcast_coalesced(self._buffers_to_sync, self.process_group, root)
        if joining:
            dist.all_reduce(_flag(sync, xp.float32), group=self.process_group)
        output = self.module(*inputs, **kwargs)
        if self.require_forward_param_sync != sync:  # Module.__setattr__ costs microseconds: only on a change
            self.require_forward_param_sync = sync
        if sync:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output) -> None:
        for b in self._buckets:
            b.pending, b.work = len(b.indices), None
        unused = []
        if self.find_unused_parameters:
            self._used[...] = 0
            reached = _reached_leaves(output)
            unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        self._pass.reset(unused)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this block backward only accumulates local gradients; the next synced backward averages the sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------------ communication hooks
    def register_comm_hook(self, state: object, hook: Callable) -> None:
        """Reduce each bucket with ``hook(state, bucket) -> Future[Tensor]`` instead of the averaging all-reduce.

        The bucket's buffer holds this rank's gradients, not divided by the world size; the Future's
        tensor (the buffer's size) is written back into the gradients. See
        ``ember.distributed.algorithms.ddp_comm_hooks.default_hooks``. Register once, before backward.
        """
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        sig = inspect.signature(hook)
        bucket_type = sig.parameters["bucket"].annotation if "bucket" in sig.parameters else GradBucket
        # a string: the hook's module postponed its annotations (from __future__ import annotations)
        if bucket_type not in (inspect.Parameter.empty, GradBucket) and not str(bucket_type).endswith("GradBucket"):
            raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
        returns = sig.return_annotation
        if returns not in (inspect.Signature.empty, Future[Tensor]) and not str(returns).startswith(
                ("Future[", "futures.Future[", "torch.futures.Future[", "ember.futures.Future[")):
            raise ValueError("Communication hook: return annotation should be ember.futures.Future[ember.Tensor].")
        self._comm_hook = (state, hook)

    def _launch(self, b: _Bucket) -> None:
        if self._comm_hook is None:
            b.work = b.sum.start()
        else:
            state, hook = self._comm_hook
            b.work = hook(state, GradBucket(b.index, b.buffer, b.params, b.slots, b.index == len(self._buckets) - 1))
            if not isinstance(b.work, Future):
                raise RuntimeError(f"DDP communication hook {getattr(hook, '__name__', hook)!r} must return an "
                                   f"ember.futures.Future, got {type(b.work).__name__}")

    def _result(self, b: _Bucket) -> None:
        """Wait for bucket ``b``'s reduction and leave its reduced values in ``b.flat``."""
        if self._comm_hook is None:
            b.work.wait()
            return
        value = b.work.wait()
        if not isinstance(value, Tensor) or value.numel() != b.flat.size:
            raise RuntimeError(f"DDP communication hook: the Future of bucket {b.index} must hold one tensor of the "
                               f"bucket's {b.flat.size} elements, got "
                               f"{type(value).__name__ if not isinstance(value, Tensor) else list(value.shape)}")
        if value._data is not b.flat:
            b.flat[...] = value._data.reshape(-1)  # cast back, if the hook compressed

    # ------------------------------------------------------------------ backward
    def _grad_hook(self, i: int) -> Callable:
        """Parameter ``i``'s post-accumulate-grad hook: its gradient goes into its bucket."""
        state = self._pass

        def hook(_p) -> None:
            if not state.expect:
                return
            if not state.started:
                state.started = True
                for j in state.unused:  # nothing will come for these: count them ready now
                    self._mark_ready(j)
            if self.find_unused_parameters:
                self._used[i] = 1
            self._mark_ready(i)
        return hook

    def _mark_ready(self, i: int) -> None:
        """Put parameter ``i``'s gradient (zeros if it has none) into its bucket; start the full buckets that
        are next in order; after the last, wait for all (the end of the pass)."""
        state = self._pass
        if state.ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once: parameter {i} got a second gradient "
                               f"before every bucket of this forward was reduced (a second backward through the "
                               f"same forward must wait until the first has reached every parameter)")
        state.ready[i] = True
        b, view = self._where[i]
        g = self._params[i]._grad
        if g is None:
            view[...] = 0
        elif self._comm_hook is None:
            xp.multiply(g._data, self._scale, out=view)
        else:
            view[...] = g._data
        b.pending -= 1
        if b.pending:
            return
        buckets = self._buckets
        while state.next < len(buckets) and buckets[state.next].pending == 0:
            self._launch(buckets[state.next])
            state.next += 1
        if state.next == len(buckets):
            self._finalize()
        else:
            for bucket in buckets[:state.next]:  # lets MPI move the launched all-reduces along
                bucket.work.done() if self._comm_hook else bucket.work.is_completed()

    def _finalize(self) -> None:
        self._pass.expect = self._pass.started = False
        used = None
        if self.find_unused_parameters:
            used = Tensor._make(self._used.copy())
            dist.all_reduce(used, group=self.process_group)
            used = used._data
        as_view = self.gradient_as_bucket_view
        for b in self._buckets:
            self._result(b)
            for i, p, view in zip(b.indices, b.params, b.views):
                if used is not None and used[i] == 0:
                    continue  # unused on every rank: its .grad stays as it was, as torch leaves it
                g = p._grad
                if as_view or g is None or g._data.shape != view.shape or not g._data.flags.writeable:
                    p.grad = Tensor._make(view if as_view else view.copy())
                else:
                    xp.copyto(g._data, view)
                    g._version += 1

    # ------------------------------------------------------------------ uneven inputs (Join)
    def join(self, divide_by_initial_world_size: bool = True, enable: bool = True,
             throw_on_early_termination: bool = False) -> Join:
        """Context manager for uneven inputs: a rank out of batches shadows the others' all-reduces with zeros.

        Args:
            divide_by_initial_world_size: divide the gradients by the world size DDP started with
                (the joined ranks count as zeros); False: by the number of ranks still training.
            enable: False turns the context manager off.
            throw_on_early_termination: raise a RuntimeError on every rank once one runs out of inputs.

        Example::

            >>> with model.join():
            ...     for x, y in my_share:        # a different number of batches on each rank
            ...         loss_fn(model(x), y).backward(); optimizer.step()
        """
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs) -> JoinHook:
        """The hook that shadows this model's forward and backward collectives on a joined rank."""
        return _DDPJoinHook(self, kwargs.get("divide_by_initial_world_size", True))

    @property
    def join_device(self) -> device:
        """The CPU: where the join's own collectives run."""
        return device("cpu")

    @property
    def join_process_group(self):
        """The process group the gradients are averaged over."""
        return self.process_group

    def _find_common_rank(self, rank: int, candidate: bool) -> int:
        """The largest rank among those with ``candidate`` True (every rank calls this)."""
        t = Tensor._make(xp.array([rank if candidate else -1], xp.int64))
        dist.all_reduce(t, dist.ReduceOp.MAX, self.process_group)
        if t._data[0] == -1:
            raise ValueError("BUG! Expected rank_cond to be true for at least one process.")
        return int(t._data[0])


class _Pass:
    """Where the reduction of the current backward pass stands. A plain object, not attributes of the
    Module: a Module's ``__setattr__`` costs microseconds, and these change several times a step."""

    __slots__ = ("expect", "started", "ready", "next", "unused")

    def __init__(self, n: int) -> None:
        self.expect = self.started = False  # expect: a synced forward ran and its hooks are due
        self.ready, self.next, self.unused = [False] * n, 0, []  # next: the first bucket not yet started

    def reset(self, unused: list[int]) -> None:
        """A new synced forward: every parameter's gradient is due, none of the buckets started."""
        self.expect, self.started, self.next, self.unused = True, False, 0, unused
        self.ready = [False] * len(self.ready)


def _flag(on: bool, dtype) -> Tensor:
    return Tensor._make(xp.full(1, 1 if on else 0, dtype))


class _DDPJoinHook(JoinHook):
    """A joined rank's side of DDP: each iteration, the collectives of the others' forward and backward."""

    def __init__(self, ddp: DistributedDataParallel, divide_by_initial_world_size: bool) -> None:
        self.ddp = ddp
        ddp._divide_by_initial_world_size = divide_by_initial_world_size
        if divide_by_initial_world_size:
            ddp._scale = 1.0 / ddp._world

    def main_hook(self) -> None:
        """Shadow one iteration: buffer broadcast, the sync flag, the bucket reductions (of zeros)."""
        ddp, group = self.ddp, self.ddp.process_group
        if ddp.require_forward_param_sync and ddp.broadcast_buffers and ddp._buffers_to_sync:
            root = ddp._find_common_rank(dist.get_rank(group), False)
            with no_grad():
                _broadcast_coalesced(ddp._buffers_to_sync, group, root)
        should_sync = _flag(False, xp.float32)
        dist.all_reduce(should_sync, group=group)
        ddp.require_forward_param_sync = bool(should_sync._data[0])
        if not ddp.require_forward_param_sync:
            return
        for b in ddp._buckets:  # the same reductions, in the same order, through the hook if there is one
            b.flat[...] = 0
            ddp._launch(b)
        for b in ddp._buckets:
            b.work.wait()
            b.work = None
        if ddp.find_unused_parameters:
            dist.all_reduce(Tensor._make(xp.zeros(len(ddp._params), xp.int32)), group=group)

    def post_hook(self, is_last_joiner: bool) -> None:
        """Every rank takes the model (and buffers) of one of the last ranks to join."""
        ddp = self.ddp
        root = ddp._find_common_rank(dist.get_rank(ddp.process_group), is_last_joiner)
        with no_grad():
            _broadcast_coalesced([p for p in ddp.module.parameters()]
                                 + (ddp._buffers_to_sync if ddp.broadcast_buffers else []), ddp.process_group, root)
