"""DistributedDataParallel: one model per process, gradients averaged over the processes in buckets.

Each parameter's post-accumulate-grad hook copies its gradient into its bucket's flat buffer;
when every gradient of a bucket is in, the bucket's all-reduce starts, non-blocking, while
backward goes on to the layers before it. The last gradient to arrive waits for all buckets
and writes the averages back into ``.grad``, so ``backward()`` returns with them in place.
Buckets are filled in reverse parameter order, as torch does, since backward produces gradients
roughly in that order; they are started strictly in bucket order so that every rank issues the
same collectives in the same order.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.function import AccumulateGrad
from ...autograd.grad_mode import no_grad, state as _grad_state
from ... import distributed as dist
from ..modules.module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's first bucket is small, so that the first all-reduce starts early
_DEFAULT_BUCKET_MB = 25


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype, and its all-reduce in flight."""

    def __init__(self, indices: list[int], params: list, dtype) -> None:
        self.indices = indices
        self.slots = []
        offset = 0
        for i in indices:
            n = params[i].numel()
            self.slots.append((offset, n))
            offset += n
        self.flat = xp.zeros(offset, dtype)
        self.pending, self.work = len(indices), None


def _bucket_assignment(params: list, cap_bytes: int) -> list[list[int]]:
    """Parameter indices per bucket: reverse parameter order, one dtype per bucket, the first one small."""
    open_, limits, done = {}, {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = p.dtype
        bucket = open_.setdefault(key, [[], 0])
        bucket[0].append(i)
        bucket[1] += p.numel() * p.element_size()
        if bucket[1] >= limits.get(key, _FIRST_BUCKET_BYTES):
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


class DistributedDataParallel(Module):
    """Data parallelism over processes: each rank runs ``module`` on its share of the batch, and
    ``backward()`` leaves every rank with the gradients averaged over all ranks.

    Args:
        module: the model; rank 0's parameters and buffers are copied to every rank here.
        broadcast_buffers: copy rank 0's buffers (batch-norm statistics) to every rank before each forward.
        process_group: the ranks to average over (default: all).
        bucket_cap_mb: bucket size in MiB (default 25; the first bucket is 1 MiB).
        find_unused_parameters: let parameters that the output does not depend on take part
            (their gradient counts as zero on the ranks that did not use them).
        gradient_as_bucket_view: ``.grad`` becomes a view of the bucket (saves a copy).

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
        self._buckets = [_Bucket(ix, self._params, self._params[ix[0]]._data.dtype)
                         for ix in _bucket_assignment(self._params, cap)]
        self._where = {}
        for b in self._buckets:
            for i, slot in zip(b.indices, b.slots):
                self._where[i] = (b, slot)
        self._expect_hooks = self._started = False
        self._ready = [False] * len(self._params)
        self._used = xp.zeros(len(self._params), xp.int32)
        self._unused: list[int] = []
        self._next = 0
        for i, p in enumerate(self._params):
            p.register_post_accumulate_grad_hook(lambda _p, i=i: self._on_grad(i))

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync = _grad_state.enabled and self.require_backward_grad_sync
        if sync and self._started:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`ember.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        if self.require_forward_param_sync and self.broadcast_buffers and self._buffers_to_sync:
            with no_grad():
                _broadcast_coalesced(self._buffers_to_sync, self.process_group)
        output = self.module(*inputs, **kwargs)
        self.require_forward_param_sync = sync
        if sync:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output) -> None:
        for b in self._buckets:
            b.pending, b.work = len(b.indices), None
        self._ready = [False] * len(self._params)
        self._used[...] = 0
        self._next = 0
        self._expect_hooks, self._started = True, False
        self._unused = []
        if self.find_unused_parameters:
            reached = _reached_leaves(output)
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this block backward only accumulates local gradients; the next synced backward averages the sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------------ backward
    def _on_grad(self, i: int) -> None:
        if not self._expect_hooks:
            return
        if not self._started:
            self._started = True
            for j in self._unused:  # nothing will come for these: count them ready now
                self._mark_ready(j)
        self._used[i] = 1
        self._mark_ready(i)

    def _mark_ready(self, i: int) -> None:
        if self._ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once: parameter {i} got a second gradient "
                               f"in this backward (retain_graph with DistributedDataParallel is not supported)")
        self._ready[i] = True
        b, (offset, n) = self._where[i]
        g = self._params[i].grad
        if g is None:
            b.flat[offset:offset + n] = 0
        else:
            b.flat[offset:offset + n] = g._data.reshape(-1)
        b.pending -= 1
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            bucket = self._buckets[self._next]
            bucket.work = dist.all_reduce(Tensor._make(bucket.flat), dist.ReduceOp.AVG, self.process_group,
                                          async_op=True)
            self._next += 1
        if self._next == len(self._buckets):
            self._finalize()
        else:
            for bucket in self._buckets[:self._next]:
                bucket.work.is_completed()  # lets MPI move the launched all-reduces along

    def _finalize(self) -> None:
        self._expect_hooks = self._started = False
        used = None
        if self.find_unused_parameters:
            used = Tensor._make(self._used.copy())
            dist.all_reduce(used, group=self.process_group)
            used = used._data
        for b in self._buckets:
            b.work.wait()
            for i, (offset, n) in zip(b.indices, b.slots):
                if used is not None and used[i] == 0:
                    continue  # unused on every rank: its .grad stays as it was, as torch leaves it
                self._write_grad(self._params[i], b.flat[offset:offset + n])

    def _write_grad(self, p, averaged) -> None:
        view = averaged.reshape(p._data.shape)
        g = p.grad
        if self.gradient_as_bucket_view or g is None or not g._data.flags.writeable or g._data.shape != view.shape:
            p.grad = Tensor._make(view if self.gradient_as_bucket_view else view.copy())
        else:
            g._data[...] = view
            g._version += 1
