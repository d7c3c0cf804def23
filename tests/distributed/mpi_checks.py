"""Checks that run inside an MPI job: ``mpiexec -n N python mpi_checks.py GROUP``.

Each check runs on every rank and prints ``PASS name`` or ``FAIL name: reason`` from rank 0 (a rank
that fails tells rank 0 through an all-gather of the outcomes). ``test_distributed.py`` launches
the job once per world size and turns each line into a test. Importing this file starts nothing.
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

CHECKS: dict[str, tuple] = {}  # name -> (function, group)


def check(group: str):
    def register(fn):
        CHECKS[fn.__name__] = (fn, group)
        return fn
    return register


DTYPES = ("float32", "float64", "int64")
SHAPES = ((), (0,), (5,), (2, 3, 4))


def rank_data(r: int, shape, dtype: str, salt: int = 0) -> np.ndarray:
    rng = np.random.default_rng(1000 * salt + r)
    if dtype == "int64":
        return rng.integers(-5, 6, size=shape).astype(np.int64)
    return rng.uniform(0.5, 1.5, size=shape).astype(dtype)


def _t(a):
    """A tensor on a fresh copy of ``a`` (NumPy scalars included)."""
    import ember
    return ember.from_numpy(np.array(a))


def close(got, want, dtype) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    if dtype == "int64":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-14)


# ----------------------------------------------------------------------------- collectives vs NumPy
REDUCTIONS = {"SUM": lambda xs: np.sum(xs, 0), "PRODUCT": lambda xs: np.prod(xs, 0),
              "MIN": lambda xs: np.min(xs, 0), "MAX": lambda xs: np.max(xs, 0),
              "AVG": lambda xs: np.sum(xs, 0) / len(xs)}


def _avg(xs, dtype):
    s = np.sum(xs, 0)
    return (s / len(xs)).astype(dtype) if dtype == "int64" else (s / np.array(len(xs), dtype))


@check("collectives")
def all_reduce_every_op_dtype_shape():
    import ember
    import ember.distributed as dist
    r, n = dist.get_rank(), dist.get_world_size()
    for async_op in (False, True):
        for dtype in DTYPES:
            for shape in SHAPES:
                for name, ref in REDUCTIONS.items():
                    xs = np.stack([rank_data(q, shape, dtype) for q in range(n)])
                    t = _t(xs[r].copy())
                    buf = t._data
                    work = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=async_op)
                    if async_op:
                        assert work.wait() and work.is_completed()
                    else:
                        assert work is None
                    want = _avg(xs, dtype) if name == "AVG" else ref(xs).astype(dtype)
                    close(t.numpy(), want, dtype)
                    assert t._data is buf  # reduced in place, on the tensor's own buffer
    # booleans: sum and max are "or", product and min "and" (torch's results)
    masks = np.stack([np.random.default_rng(q).integers(0, 2, 7).astype(bool) for q in range(n)])
    for name, want in (("SUM", masks.any(0)), ("MAX", masks.any(0)), ("PRODUCT", masks.all(0)),
                       ("MIN", masks.all(0))):
        t = _t(masks[r])
        dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
        np.testing.assert_array_equal(t.numpy(), want, err_msg=name)


@check("collectives")
def broadcast_reduce_from_last_rank():
    import ember
    import ember.distributed as dist
    r, n = dist.get_rank(), dist.get_world_size()
    root = n - 1
    for async_op in (False, True):
        for dtype in DTYPES:
            for shape in SHAPES:
                t = _t(rank_data(r, shape, dtype))
                w = dist.broadcast(t, src=root, async_op=async_op)
                if async_op:
                    w.wait()
                close(t.numpy(), rank_data(root, shape, dtype), dtype)
                xs = np.stack([rank_data(q, shape, dtype, 1) for q in range(n)])
                t = _t(xs[r].copy())
                w = dist.reduce(t, dst=root, op=dist.ReduceOp.MAX, async_op=async_op)
                if async_op:
                    w.wait()
                close(t.numpy(), xs.max(0) if r == root else xs[r], dtype)


@check("collectives")
def gathers_and_scatters():
    import ember
    import ember.distributed as dist
    r, n = dist.get_rank(), dist.get_world_size()
    for async_op in (False, True):
        def done(w):
            if async_op:
                w.wait()
        for dtype in DTYPES:
            for shape in SHAPES:
                xs = [rank_data(q, shape, dtype, 2) for q in range(n)]
                mine = _t(xs[r].copy())
                out = [_t(np.zeros(shape, dtype)) for _ in range(n)]
                done(dist.all_gather(out, mine, async_op=async_op))
                for q in range(n):
                    close(out[q].numpy(), xs[q], dtype)
                flat = _t(np.zeros((n,) + shape, dtype))
                done(dist.all_gather_into_tensor(flat, mine, async_op=async_op))
                close(flat.numpy(), np.stack(xs), dtype)
                # reduce_scatter: rank q contributes chunks ys[q][0..n-1]; rank r gets the sum of chunk r
                ys = [np.stack([rank_data(10 * q + c, shape, dtype, 3) for c in range(n)]) for q in range(n)]
                got = _t(np.zeros(shape, dtype))
                done(dist.reduce_scatter(got, [_t(c.copy()) for c in ys[r]], async_op=async_op))
                close(got.numpy(), sum(y[r] for y in ys).astype(dtype), dtype)
                got = _t(np.zeros(shape, dtype))
                done(dist.reduce_scatter_tensor(got, _t(ys[r].copy()), dist.ReduceOp.SUM,
                                                async_op=async_op))
                close(got.numpy(), sum(y[r] for y in ys).astype(dtype), dtype)
                dst = n - 1
                lst = [_t(np.zeros(shape, dtype)) for _ in range(n)] if r == dst else None
                done(dist.gather(mine, lst, dst=dst, async_op=async_op))
                if r == dst:
                    for q in range(n):
                        close(lst[q].numpy(), xs[q], dtype)
                got = _t(np.zeros(shape, dtype))
                src_list = [_t(ys[0][c].copy()) for c in range(n)] if r == 0 else None
                done(dist.scatter(got, src_list, src=0, async_op=async_op))
                close(got.numpy(), ys[0][r], dtype)


@check("collectives")
def point_to_point_and_all_to_all():
    import ember
    import ember.distributed as dist
    r, n = dist.get_rank(), dist.get_world_size()
    for dtype in DTYPES:
        nxt, prv = (r + 1) % n, (r - 1) % n
        box = _t(np.zeros((2, 3), dtype))
        if r % 2 == 0:
            dist.send(_t(rank_data(r, (2, 3), dtype)), dst=nxt)
            sender = dist.recv(box, src=prv)
        else:
            sender = dist.recv(box)  # from any rank
            dist.send(_t(rank_data(r, (2, 3), dtype)), dst=nxt)
        assert sender == prv, (sender, prv)
        close(box.numpy(), rank_data(prv, (2, 3), dtype), dtype)
        box = _t(np.zeros(4, dtype))
        works = [dist.isend(_t(rank_data(r, (4,), dtype, 4)), dst=nxt),
                 dist.irecv(box, src=prv)]
        for w in works:
            w.wait()
        close(box.numpy(), rank_data(prv, (4,), dtype, 4), dtype)
        # all_to_all with uneven sizes: rank q sends q + p + 1 values to rank p
        send = [_t(rank_data(100 * r + p, (r + p + 1,), dtype, 5)) for p in range(n)]
        recv = [_t(np.zeros(q + r + 1, dtype)) for q in range(n)]
        dist.all_to_all(recv, send)
        for q in range(n):
            close(recv[q].numpy(), rank_data(100 * q + r, (q + r + 1,), dtype, 5), dtype)
        src = rank_data(r, (2 * n, 3), dtype, 6)
        out = _t(np.zeros((2 * n, 3), dtype))
        dist.all_to_all_single(out, _t(src))
        want = np.concatenate([rank_data(q, (2 * n, 3), dtype, 6)[2 * r:2 * r + 2] for q in range(n)])
        close(out.numpy(), want, dtype)


@check("collectives")
def objects_barrier_groups_errors():
    import ember
    import ember.distributed as dist
    r, n = dist.get_rank(), dist.get_world_size()
    objs = [{"rank": r}, "x" * r, None]
    dist.broadcast_object_list(objs, src=n - 1)
    assert objs == [{"rank": n - 1}, "x" * (n - 1), None], objs
    got = [None] * n
    dist.all_gather_object(got, ("obj", r))
    assert got == [("obj", q) for q in range(n)], got
    dist.barrier()
    assert dist.barrier(async_op=True).wait()
    assert dist.get_backend() == "mpi" and dist.is_initialized()
    assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(n) and os.environ["LOCAL_RANK"] == str(r)
    # a group of the first and last ranks: reductions stay inside it
    g = dist.new_group([n - 1, 0])
    if r in (0, n - 1):
        assert dist.get_world_size(g) == 2 and dist.get_rank(g) == (0 if r == 0 else 1)
        assert dist.get_process_group_ranks(g) == [0, n - 1]
        t = ember.tensor([float(r + 1)])
        dist.all_reduce(t, group=g)
        assert t.item() == 1.0 + n, t
        t = ember.tensor([float(r)])
        dist.broadcast(t, src=n - 1, group=g)
        assert t.item() == n - 1
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
    try:
        dist.all_reduce(ember.zeros(4, 4).t())
        raise AssertionError("a non-contiguous tensor was accepted")
    except RuntimeError as e:  # torch's MPI backend raises RuntimeError too
        assert "contiguous" in str(e) and "all_reduce" in str(e)
    try:
        dist.init_process_group("mpi")
        raise AssertionError("a second init was accepted")
    except ValueError as e:
        assert "twice" in str(e)


# ----------------------------------------------------------------------------- DDP equals one process
def _mlp(nn):
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def _cnn(nn):
    # no bias before a batch norm: its exact gradient is 0, and Adam would turn the rounding noise into steps
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 2 * 2, 3))


class _LSTMNet:
    @staticmethod
    def make(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True)
                self.head = nn.Linear(5, 3)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1])
        return Net()


MODELS = {"mlp": (_mlp, (6,)), "cnn_syncbn": (_cnn, (2, 8, 8)), "lstm": (_LSTMNet.make, (7, 3))}


def _train(model, batches, dtype, shard=None):
    import ember
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    for x, y in batches:
        if shard is not None:
            x, y = x[shard], y[shard]
        loss = ember.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _ddp_equals_one_process(name: str, dtype: str) -> None:
    import ember
    import ember.distributed as dist
    import ember.nn as nn
    from ember.nn.parallel import DistributedDataParallel as DDP
    r, n = dist.get_rank(), dist.get_world_size()
    make, shape = MODELS[name]
    dt = getattr(ember, dtype)
    rng = np.random.default_rng(7)
    batches = [(_t(rng.normal(size=(8,) + shape)).to(dt), _t(rng.integers(0, 3, 8)))
               for _ in range(20)]
    ember.manual_seed(3)
    single = make(nn).to(dt)
    ember.manual_seed(100 + r)  # different on every rank: DDP must start all from rank 0's weights
    model = make(nn).to(dt)
    if r == 0:
        model.load_state_dict(single.state_dict())
    if name == "cnn_syncbn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        assert isinstance(model[1], nn.SyncBatchNorm)
    ddp = DDP(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    _train(single, batches, dt)
    _train(ddp, batches, dt, shard=slice(r * 8 // n, (r + 1) * 8 // n))
    tol = 1e-10 if dtype == "float64" else 1e-5
    for (k, a), b in zip(single.state_dict().items(), model.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=tol, atol=tol, err_msg=f"{name} {dtype} {k}")


for _name in MODELS:
    for _dtype in ("float32", "float64"):
        def _run(_name=_name, _dtype=_dtype):
            _ddp_equals_one_process(_name, _dtype)
        _run.__name__ = f"ddp_equals_one_process_{_name}_{_dtype}"
        check("ddp")(_run)


# ----------------------------------------------------------------------------- DDP against torch's DDP (gloo)
_TORCH: dict = {}


def _torch_dist():
    """torch.distributed with a gloo group over the same ranks (rendezvous in a file pytest names)."""
    import torch
    import torch.distributed as tdist
    import ember.distributed as dist
    if not _TORCH:
        torch.set_num_threads(1)
        tdist.init_process_group("gloo", init_method="file://" + os.environ["EMBER_TEST_RENDEZVOUS"],
                                 rank=dist.get_rank(), world_size=dist.get_world_size())
        _TORCH["ok"] = True
    return torch, tdist


def _both(make, r):
    """The same module built in ember and torch, with weights different on each rank."""
    import ember
    import torch
    ember.manual_seed(50 + r)
    e = make(ember.nn).double()
    t = make(torch.nn).double()
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in e.state_dict().items()})
    return e, t


def _both_ddp(make, r, dtype="double"):
    """``_both``'s modules in the given dtype, each wrapped in its library's DistributedDataParallel."""
    import ember
    import torch
    e, t = (getattr(m, dtype)() for m in _both(make, r))
    return e, t, ember.nn.parallel.DistributedDataParallel(e), torch.nn.parallel.DistributedDataParallel(t)


def _same_state(e, t, what):
    for (k, a), b in zip(e.state_dict().items(), t.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{what} {k}")


def _same_grads(e, t, what):
    for (k, a), b in zip(e.named_parameters(), t.parameters()):
        assert (a.grad is None) == (b.grad is None), f"{what} {k}: grad None-ness differs"
        if a.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{what} {k}")


def _data(r, shape, steps, seed=0):
    rng = np.random.default_rng(seed + 17 * r)  # each rank its own data
    return [(rng.normal(size=(4,) + shape), rng.integers(0, 3, 4)) for _ in range(steps)]


@check("torch")
def plain_batchnorm_as_torch_ddp():
    import ember
    import ember.distributed as dist
    torch, tdist = _torch_dist()
    r = dist.get_rank()
    e, t, ed, td = _both_ddp(_cnn, r)
    eo, to = ember.optim.Adam(e.parameters(), lr=1e-2), torch.optim.Adam(t.parameters(), lr=1e-2)
    for x, y in _data(r, (2, 8, 8), 5):
        for model, opt, lib in ((ed, eo, ember), (td, to, torch)):
            loss = lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
    _same_state(e, t, "plain BatchNorm under DDP")  # running statistics too: rank 0's, then this rank's step
    e.eval(), t.eval()
    x = _data(r, (2, 8, 8), 1, 9)[0][0]
    np.testing.assert_allclose(e(_t(x)).detach().numpy(), t(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@check("torch")
def no_sync_accumulates_the_plain_sum():
    import ember
    import ember.distributed as dist
    torch, tdist = _torch_dist()
    r, n = dist.get_rank(), dist.get_world_size()
    e, t, ed, td = _both_ddp(_mlp, r)
    batches = _data(r, (6,), 3, 5)
    local = [np.zeros(p.shape) for p in e.parameters()]  # the hand computation: each rank's gradient sum
    reference = _both(_mlp, 0)[0]
    for i, (x, y) in enumerate(batches):
        xb, yb = _t(x), _t(y)
        reference.zero_grad()
        ember.nn.functional.cross_entropy(reference(xb), yb).backward()
        for acc, p in zip(local, reference.parameters()):
            acc += p.grad.numpy()
        for model, lib in ((ed, ember), (td, torch)):
            last = i == len(batches) - 1
            ctx = model.no_sync() if not last else _null()
            with ctx:
                lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y)).backward()
        if i < len(batches) - 1:  # inside no_sync: this rank's own gradients, not averaged
            for acc, p in zip(local, e.parameters()):
                np.testing.assert_allclose(p.grad.numpy(), acc, rtol=1e-12, atol=1e-14)
    _same_grads(e, t, "no_sync")
    every = [None] * n
    dist.all_gather_object(every, local)
    for k, p in enumerate(e.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(g[k] for g in every) / n, rtol=1e-12, atol=1e-14)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _branchy(nn):
    class Net(nn.Module):
        """``a`` on every rank, ``b`` only when told, ``never`` on none."""

        def __init__(self):
            super().__init__()
            self.a, self.b, self.never = nn.Linear(4, 3), nn.Linear(4, 3), nn.Linear(4, 3)
            self.use_b = False

        def forward(self, x):
            out = self.a(x)
            return out + self.b(x) if self.use_b else out
    return Net()


@check("torch")
def unused_parameters_as_torch_ddp():
    import ember
    import ember.distributed as dist
    torch, tdist = _torch_dist()
    r = dist.get_rank()
    e, t = _both(_branchy, r)
    ed = ember.nn.parallel.DistributedDataParallel(e, find_unused_parameters=True)
    td = torch.nn.parallel.DistributedDataParallel(t, find_unused_parameters=True)
    for step, (x, y) in enumerate(_data(r, (4,), 3, 11)):
        e.use_b = t.use_b = (r == 0) == (step % 2 == 0)  # used on some ranks only
        for model, lib in ((ed, ember), (td, torch)):
            for p in model.parameters():
                p.grad = None
            lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y)).backward()
        _same_grads(e, t, f"find_unused_parameters step {step}")
    assert e.never.weight.grad is None
    # without find_unused_parameters the next forward says what went wrong, as torch does
    e2 = _branchy(ember.nn).double()
    ed2 = ember.nn.parallel.DistributedDataParallel(e2)
    x = _t(np.ones((2, 4)))
    ed2(x).sum().backward()
    try:
        ed2(x)
        raise AssertionError("an unfinished reduction went unnoticed")
    except RuntimeError as err:
        assert "find_unused_parameters=True" in str(err)


# ----------------------------------------------------------------------------- communication hooks
def _local_grads(make, x, y):
    """The gradients, on this rank's data only, of the float32 model that DDP starts from (NumPy arrays)."""
    import ember
    m = _both(make, 0)[0].float()  # rank 0's weights, as DDP gives every rank
    ember.nn.functional.cross_entropy(m(_t(x).float()), _t(y)).backward()
    return [p.grad.numpy() for p in m.parameters()]


def _noop_hook(lib, bucket):
    """Leaves every rank its own gradients (a hand-made, already completed Future of ``lib``)."""
    fut = lib.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def _sum_hook(state, bucket):
    """The plain sum over ranks, through Work.get_future().then()."""
    import ember.distributed as dist
    return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda fut: fut.value()[0])


@check("torch")
def comm_hooks_as_torch_ddp():
    import ember
    import ember.distributed as dist
    from ember.distributed.algorithms.ddp_comm_hooks import default_hooks as eh
    torch, tdist = _torch_dist()
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks as th
    r, n = dist.get_rank(), dist.get_world_size()
    # name: (ember's hook, torch's, the state); the no-op hook's state is the library whose Future it makes
    hooks = {"allreduce": (eh.allreduce_hook, th.allreduce_hook, None),
             "fp16": (eh.fp16_compress_hook, th.fp16_compress_hook, None),
             "fp16_wrapper": (eh.fp16_compress_wrapper(eh.allreduce_hook), th.fp16_compress_wrapper(th.allreduce_hook),
                              None),
             "noop": (_noop_hook, _noop_hook, "lib"), "sum": (_sum_hook, None, None)}
    for name, (ehook, thook, state) in hooks.items():
        e, t, ed, td = _both_ddp(_mlp, r, "float")
        ed.register_comm_hook(ember if state else None, ehook)
        if thook is not None:
            td.register_comm_hook(torch if state else None, thook)
        for x, y in _data(r, (6,), 2, 23):
            mine = _local_grads(_mlp, x, y) if name in ("fp16", "noop", "sum") else None
            every = [None] * n
            dist.all_gather_object(every, mine)
            for model, lib in ((ed, ember), (td, torch)):
                model.zero_grad()
                lib.nn.functional.cross_entropy(model(lib.from_numpy(x).float()), lib.from_numpy(y)).backward()
            if thook is not None:  # float32 gradients agree to rounding; float16 ones to one float16 step
                tol = 1e-3 if name.startswith("fp16") else 1e-5
                for (k, a), b in zip(e.named_parameters(), t.parameters()):
                    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol * 1e-2,
                                               err_msg=f"{name} hook {k}")
            for k, p in enumerate(e.parameters()):  # and exactly, by hand in NumPy, from ember's local gradients
                if name == "fp16":  # rounded to float16, divided and summed in float16
                    want = every[0][k].astype(np.float16) / np.float16(n)
                    for g in every[1:]:
                        want = want + g[k].astype(np.float16) / np.float16(n)
                    np.testing.assert_array_equal(p.grad.numpy(), want.astype(np.float32))
                elif name == "noop":
                    np.testing.assert_allclose(p.grad.numpy(), every[r][k], rtol=1e-6, atol=1e-7)
                elif name == "sum":
                    np.testing.assert_allclose(p.grad.numpy(), sum(g[k] for g in every), rtol=1e-6, atol=1e-7)


@check("ddp")
def comm_hook_buckets_and_bf16():
    import ember
    import ember.distributed as dist
    from ember.distributed.algorithms.ddp_comm_hooks import default_hooks
    r, n = dist.get_rank(), dist.get_world_size()
    x, y = _data(r, (6,), 1, 29)[0]
    mine = _local_grads(_mlp, x, y)
    every = [None] * n
    dist.all_gather_object(every, mine)
    seen = []

    def recording(state, bucket):  # checked after backward: a rank raising in here would leave the other waiting
        buf = bucket.buffer()
        seen.append((state, bucket.index(), bucket.is_last(), [ids.index(id(p)) for p in bucket.parameters()],
                     [(g.shape == p.shape, np.shares_memory(g.numpy(), buf.numpy()), g.numpy().copy())
                      for p, g in zip(bucket.parameters(), bucket.gradients())]))
        return default_hooks.allreduce_hook(None, bucket)

    e = _both(_mlp, r)[0].float()
    ids = [id(p) for p in e.parameters()]
    ed = ember.nn.parallel.DistributedDataParallel(e, bucket_cap_mb=100 / 2**20)  # 100 bytes: a bucket per layer
    ed.register_comm_hook("state", recording)
    ember.nn.functional.cross_entropy(ed(_t(x).float()), _t(y)).backward()
    assert [s[1] for s in seen] == list(range(len(seen))) and len(seen) == 3, [s[3] for s in seen]
    assert [s[2] for s in seen] == [False] * (len(seen) - 1) + [True]
    assert sorted(k for s in seen for k in s[3]) == list(range(len(ids))) and {s[0] for s in seen} == {"state"}
    for s in seen:
        for k, (same_shape, shares, g) in zip(s[3], s[4]):  # views of the buffer, not divided by the world size
            assert same_shape and shares
            np.testing.assert_allclose(g, mine[k], rtol=1e-6, atol=1e-7)
    for k, p in enumerate(e.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(g[k] for g in every) / n, rtol=1e-6, atol=1e-7)
    # registering: once, a callable, torch's annotations
    try:
        ed.register_comm_hook(None, recording)
        raise AssertionError("a second hook was accepted")
    except RuntimeError as err:
        assert "only be called once" in str(err)
    fresh = ember.nn.parallel.DistributedDataParallel(_both(_mlp, r)[0])

    def annotated(state, bucket: int):
        return None
    for bad, kind in ((42, TypeError), (annotated, ValueError)):
        try:
            fresh.register_comm_hook(None, bad)
            raise AssertionError(f"{bad!r} was accepted")
        except kind:
            pass
    # bfloat16 (torch's DDP refuses it without NCCL): rounded, divided and summed in bfloat16, as ml_dtypes does
    import ml_dtypes
    e = _both(_mlp, r)[0].float()
    ed = ember.nn.parallel.DistributedDataParallel(e)
    ed.register_comm_hook(None, default_hooks.bf16_compress_hook)
    ember.nn.functional.cross_entropy(ed(_t(x).float()), _t(y)).backward()
    bf = ml_dtypes.bfloat16
    for k, p in enumerate(e.parameters()):
        want = every[0][k].astype(bf) / bf(n)
        for g in every[1:]:
            want = want + g[k].astype(bf) / bf(n)
        np.testing.assert_array_equal(p.grad.numpy(), want.astype(np.float32))


# ----------------------------------------------------------------------------- uneven inputs, retain_graph
def _uneven_run(lib, model, batches, join_kwargs, opt_name, r=0):
    """Train on this rank's batches inside ``model.join``; a ``_branchy`` model uses ``b`` on alternate
    steps, out of step between ranks, and accumulates every other step under ``no_sync``."""
    opt = getattr(lib.optim, opt_name)(model.parameters(), lr=1e-2)
    branchy = hasattr(model.module, "use_b")
    with model.join(**join_kwargs):
        for step, (x, y) in enumerate(batches):
            accumulate = branchy and step % 2 == 0
            if branchy:
                model.module.use_b = (step + r) % 2 == 0
            with model.no_sync() if accumulate else _null():
                lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y)).backward()
            if not accumulate:
                opt.step()
                opt.zero_grad()


@check("torch")
def join_uneven_inputs_as_torch_ddp():
    import ember
    import ember.distributed as dist
    torch, tdist = _torch_dist()
    r, n = dist.get_rank(), dist.get_world_size()
    # the CNN has batch norms (buffers broadcast from a rank still training); rank r has 1 + 2r batches
    # the branchy model: unused parameters and no_sync steps, shadowed by the joined rank
    for make, shape, kwargs, opt_name in ((_cnn, (2, 8, 8), {}, "Adam"),
                                          (_mlp, (6,), {"divide_by_initial_world_size": False}, "SGD"),
                                          (_branchy, (4,), {}, "SGD")):
        e, t = _both(make, r)
        unused = make is _branchy
        ed = ember.nn.parallel.DistributedDataParallel(e, find_unused_parameters=unused)
        td = torch.nn.parallel.DistributedDataParallel(t, find_unused_parameters=unused)
        batches = _data(r, shape, 1 + 4 * r, 31)
        _uneven_run(ember, ed, batches, kwargs, opt_name, r)
        _uneven_run(torch, td, batches, kwargs, opt_name, r)
        _same_state(e, t, f"join {make.__name__} {kwargs}")
        every = [None] * n
        dist.all_gather_object(every, [v.numpy() for v in e.state_dict().values()])
        for a, b in zip(every[0], every[r]):  # the last joiner's model on every rank
            np.testing.assert_array_equal(a, b)
    # with a communication hook, the joined rank runs the hook on zeros
    from ember.distributed.algorithms.ddp_comm_hooks import default_hooks
    e, t, ed, td = _both_ddp(_mlp, r)
    ed.register_comm_hook(None, default_hooks.allreduce_hook)
    batches = _data(r, (6,), 2 + r, 37)
    _uneven_run(ember, ed, batches, {}, "SGD")
    _uneven_run(torch, td, batches, {}, "SGD")
    _same_state(e, t, "join with a comm hook")
    # throw_on_early_termination: every rank raises, with torch's messages
    messages = {}
    for lib in (ember, torch):
        model = lib.nn.parallel.DistributedDataParallel(_both(_mlp, r)[1 if lib is torch else 0])
        try:
            with model.join(throw_on_early_termination=True):
                for x, y in _data(r, (6,), 1 + r, 41):
                    lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y)).backward()
            raise AssertionError("no rank raised")
        except RuntimeError as err:
            messages[lib.__name__] = str(err)
    assert messages["ember"] == messages["torch"], messages


@check("torch")
def retain_graph_two_backward_passes_as_torch_ddp():
    import ember
    import ember.distributed as dist
    torch, tdist = _torch_dist()
    r = dist.get_rank()
    e, t, ed, td = _both_ddp(_mlp, r)
    x, y = _data(r, (6,), 1, 43)[0]
    losses = [lib.nn.functional.cross_entropy(m(lib.from_numpy(x)), lib.from_numpy(y))
              for m, lib in ((ed, ember), (td, torch))]
    for retain in (True, False):  # the first averages, the second adds this rank's own gradients
        for loss in losses:
            loss.backward(retain_graph=retain)
        _same_grads(e, t, f"backward with retain_graph={retain}")
    # two losses of one output: the first backward averages, the second accumulates locally
    outs = [m(lib.from_numpy(x)) for m, lib in ((ed, ember), (td, torch))]
    for m in (ed, td):
        m.zero_grad()
    for column in (0, 1):
        for out in outs:
            out[:, column].sum().backward(retain_graph=True)
        _same_grads(e, t, f"backward of output column {column}")


# ----------------------------------------------------------------------------- a rank that fails
def early_exit() -> None:
    """Rank 1 leaves with sys.exit(0) while rank 0 waits in an all_reduce: the job must end, non-zero."""
    from datetime import timedelta
    import ember
    import ember.distributed as dist
    dist.init_process_group("mpi", timeout=timedelta(seconds=2))
    if dist.get_rank() == 1:
        sys.exit(0)
    dist.all_reduce(ember.ones(3))
    print("rank 0 finished its all_reduce", flush=True)  # must not happen: rank 1 never joins


def crash() -> None:
    """Rank 1 raises at step 3 while the others go on into the next collective: the job must end non-zero."""
    import ember
    import ember.distributed as dist
    from ember.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("mpi")
    model = DDP(ember.nn.Linear(4, 2))
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            raise ZeroDivisionError("rank 1 fails on purpose")
        model(ember.ones(2, 4)).sum().backward()
        dist.barrier()


def main(groups: list[str]) -> int:
    import ember.distributed as dist
    if groups == ["crash"]:
        crash()
        return 0
    if groups == ["early_exit"]:
        early_exit()
        return 0
    dist.init_process_group("mpi")
    r = dist.get_rank()
    failures = 0
    for name, (fn, group) in CHECKS.items():
        if group not in groups:
            continue
        try:
            fn()
            outcome = None
        except Exception:
            outcome = traceback.format_exc()
        every = [None] * dist.get_world_size()
        dist.all_gather_object(every, outcome)
        bad = [(q, o) for q, o in enumerate(every) if o is not None]
        failures += bool(bad)
        if r == 0:
            if bad:
                detail = "".join(f"\n[rank {q}] {o}" for q, o in bad).replace("\n", "\n    ")
                print(f"FAIL {name}:{detail}", flush=True)
            else:
                print(f"PASS {name}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
