"""Process groups and collectives over MPI, as torch.distributed: every MPI call in ember lives here.

Tensors travel as their own NumPy buffers (mpi4py's buffer interface), reduced in place
(``MPI.IN_PLACE``), so a collective copies nothing beyond what MPI itself needs. Every collective
is issued non-blocking (``Iallreduce``, ``Ibcast``, ...); ``async_op=True`` hands back the
``Work`` to wait on, otherwise it is waited for at once. ``mpi4py`` is imported, and so MPI
started, only by ``init_process_group``.
"""
from __future__ import annotations

import enum
import importlib.util
import os
import sys
import time
from datetime import timedelta
from typing import Any, Callable

from .._backend import xp
from .._tensor import Tensor
from ..futures import Future

_MPI = None           # the mpi4py.MPI module once imported
_WORLD = None         # the default ProcessGroup
_GROUPS: list = []    # groups made by new_group, freed by destroy_process_group
_SPIN_S = None if os.environ.get("EMBER_MPI_SPIN") == "always" else float(os.environ.get("EMBER_MPI_SPIN", "0.0005"))
_NAP_S = 5e-5
_spin_now = _SPIN_S  # the spin of the next wait: shrinks while peers keep arriving after _SPIN_S (see Work.wait)

# where launchers put the rank and size: torchrun, MPICH/Intel (PMI), Open MPI, Slurm
_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")


class Backend(str):
    """Backend names, as ``torch.distributed.Backend``; ember has only MPI."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"


class ReduceOp(enum.Enum):
    """How a reduction combines the ranks' tensors, as ``torch.distributed.ReduceOp``."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ProcessGroup:
    """A set of ranks with its own MPI communicator; ``ranks`` are their global ranks, in group order."""

    def __init__(self, comm, ranks: list[int]) -> None:
        self._comm, self._ranks = comm, ranks

    def rank(self) -> int:
        """This process's rank within the group."""
        return self._comm.Get_rank()

    def size(self) -> int:
        """The number of ranks in the group."""
        return self._comm.Get_size()

    def name(self) -> str:
        """The backend's name."""
        return Backend.MPI

    def __repr__(self) -> str:
        return f"ProcessGroup(mpi, ranks={self._ranks})"


class GroupMember:
    """``WORLD``: the default group; ``NON_GROUP_MEMBER``: what ``new_group`` gives a rank left out."""

    WORLD = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # torch.distributed.group.WORLD


class Work:
    """A collective in flight: ``wait()`` blocks until it is done (and its result is in place)."""

    def __init__(self, request, then: Callable[[], Any] | None = None, tensors: list | None = None) -> None:
        self._req, self._then, self._tensors, self._done = request, then, tensors or [], False

    def _finish(self) -> None:
        self._done = True
        if self._then is not None:
            self._then()
            self._then = None

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the operation is complete; returns True."""
        if not self._done:
            if _SPIN_S is None:
                self._req.Wait()
            else:
                # spin briefly (a balanced peer arrives within microseconds), then nap between tests, so that a
                # rank waiting for a descheduled peer hands the core over instead of spinning inside MPI
                global _spin_now
                start = time.perf_counter()
                deadline = start + _spin_now
                while not self._req.Test():
                    if time.perf_counter() > deadline:
                        time.sleep(_NAP_S)
                # on a busy machine peers keep arriving later than the full spin, so spinning only keeps them off
                # the core: spin less next time; a wait that the full spin would have covered earns it back
                late = time.perf_counter() - start > _SPIN_S
                _spin_now = max(_SPIN_S / 32, _spin_now / 2) if late else min(_SPIN_S, _spin_now * 2)
            self._finish()
        return True

    def is_completed(self) -> bool:
        """Whether the operation has finished (never blocks)."""
        if not self._done and self._req.Test():
            self._finish()
        return self._done

    def is_success(self) -> bool:
        """Whether it finished without error (MPI aborts on errors, so: whether it finished)."""
        return self.is_completed()

    def result(self) -> list[Tensor]:
        """The tensors the operation wrote."""
        self.wait()
        return self._tensors

    def get_future(self) -> Future[list[Tensor]]:
        """A Future that completes, with ``result()``, when the operation does."""
        return Future._of(self)


def _mpi():
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError("ember.distributed needs MPI: pip install 'ember[distributed]' (mpi4py and mpich)") from e
        _MPI = MPI
    return _MPI


# ----------------------------------------------------------------------------- setup
def is_available() -> bool:
    """Whether ember.distributed can run here (mpi4py is installed)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


def get_default_backend_for_device(device) -> str:
    """The backend ``init_process_group`` uses for a device type: "mpi" for the CPU (ember's gloo); ember
    registers none for other devices, which raises torch's ValueError."""
    kind = str(device).split(":")[0]
    if kind != "cpu":
        raise ValueError(f"Default backend not registered for device : {device}")
    return Backend.MPI


def is_gloo_available() -> bool:
    """False: ember's only backend is MPI."""
    return False


def is_nccl_available() -> bool:
    """False: ember's only backend is MPI."""
    return False


def is_torchelastic_launched() -> bool:
    """False: ember launches with MPI, not torchelastic."""
    return False


def is_initialized() -> bool:
    """Whether the default process group has been initialized."""
    return _WORLD is not None


def _env_int(names: tuple) -> int | None:
    for name in names:
        if os.environ.get(name, "").strip().lstrip("-").isdigit():
            return int(os.environ[name])
    return None


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout: timedelta | None = None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:
    """Start MPI and make the default group of every process that ``mpiexec`` started.

    The rank and size come from MPI; ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
    ``LOCAL_WORLD_SIZE`` are set for the program. An uncaught exception on any rank aborts the
    whole job, so no rank waits forever for one that died.
    """
    global _WORLD
    name = str(backend).lower() if backend is not None else "mpi"
    if name not in ("mpi", "cpu:mpi"):
        raise RuntimeError(f"init_process_group: backend '{backend}' is not available in ember; use backend=\"mpi\" "
                           f"(ember's only backend) and launch with mpiexec or python -m ember.distributed.run")
    if _WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()  # a communicator of our own: the user's MPI messages never meet ours
    size, me = comm.Get_size(), comm.Get_rank()
    launched = _env_int(_SIZE_VARS)
    if size == 1 and launched is not None and launched > 1:
        comm.Free()
        raise RuntimeError(f"init_process_group: the environment says {launched} processes, but MPI sees only this "
                           f"one: launch with mpiexec -n {launched} (or python -m ember.distributed.run), not torchrun")
    if world_size not in (-1, None, size) or rank not in (-1, None, me):
        comm.Free()
        raise ValueError(f"init_process_group: world_size={world_size}, rank={rank} disagree with MPI's "
                         f"world size {size}, rank {me}")
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
    os.environ.update(RANK=str(me), WORLD_SIZE=str(size), LOCAL_RANK=str(local.Get_rank()),
                      LOCAL_WORLD_SIZE=str(local.Get_size()))
    local.Free()
    _WORLD = GroupMember.WORLD = ProcessGroup(comm, list(range(size)))
    if size > 1:
        _abort_on_uncaught_exception()
        _abort_on_early_exit(MPI.COMM_WORLD.Dup(), timeout or DEFAULT_TIMEOUT)


def _abort_on_uncaught_exception() -> None:
    previous = sys.excepthook
    if getattr(previous, "_ember_abort", False):
        return

    def hook(kind, value, tb):
        if previous is sys.__excepthook__:
            # in one write, and a moment for mpiexec to forward it: Abort kills the job at once
            import time
            import traceback
            os.write(2, "".join(traceback.format_exception(kind, value, tb)).encode(errors="replace"))
            time.sleep(0.2)
        else:
            previous(kind, value, tb)
            sys.stderr.flush()
        _MPI.COMM_WORLD.Abort(1)  # the other ranks may be blocked in a collective with this one

    hook._ember_abort = True
    sys.excepthook = hook


DEFAULT_TIMEOUT = timedelta(minutes=30)  # torch's default for its CPU backend


def _abort_on_early_exit(comm, timeout: timedelta) -> None:
    """At exit, wait (up to ``timeout``) for every rank to reach its own exit; then abort the job.

    A rank that leaves without an exception (``sys.exit`` on one rank) would otherwise leave the
    others blocked for ever in their next collective with it, and mpiexec waiting for them."""
    import atexit

    def wait_for_the_others() -> None:
        req, deadline = comm.Ibarrier(), time.monotonic() + timeout.total_seconds()
        while not req.Test():
            if time.monotonic() > deadline:
                os.write(2, (f"ember.distributed: rank {comm.Get_rank()} is exiting, but other ranks did not reach "
                             f"the end of the program within the timeout ({timeout}); they are probably waiting in a "
                             "collective for this rank. Aborting the job.\n").encode())
                comm.Abort(1)
            time.sleep(0.005)

    atexit.register(wait_for_the_others)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free ``group``'s communicator, or every group's (MPI itself stays up until the program exits)."""
    global _WORLD
    if group is None or group is _WORLD:
        for g in _GROUPS + ([_WORLD] if _WORLD is not None else []):
            g._comm.Free()
        _GROUPS.clear()
        _WORLD = GroupMember.WORLD = None
    elif group in _GROUPS:
        _GROUPS.remove(group)
        group._comm.Free()


def _group(group) -> ProcessGroup | None:
    if _WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    return _WORLD if group is None else group


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None, backend: str | None = None,
              pg_options=None, use_local_synchronization: bool = False, group_desc: str | None = None):
    """A group of the given global ranks (all ranks must call it); ranks left out get ``NON_GROUP_MEMBER``."""
    world = _group(None)
    ranks = sorted(set(range(world.size()) if ranks is None else ranks))
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is not in the world of {world.size()} ranks")
    comm = world._comm.Create(world._comm.Get_group().Incl(ranks))
    if comm == _MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(comm, ranks)
    _GROUPS.append(g)
    return g


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the world by default); -1 outside it."""
    g = _group(group)
    return -1 if g is None else g.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in ``group`` (the world by default); -1 outside it."""
    g = _group(group)
    return -1 if g is None else g.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """'mpi'."""
    _group(group)
    return Backend.MPI


def get_process_group_ranks(group: ProcessGroup) -> list[int]:
    """The global ranks of ``group``, in group order."""
    return list(_group(group)._ranks)


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    """The rank within ``group`` of global rank ``global_rank``."""
    ranks = _group(group)._ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    """The global rank of rank ``group_rank`` of ``group``."""
    ranks = _group(group)._ranks
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[group_rank]


def _peer(g: ProcessGroup, global_rank, group_rank) -> int:
    # torch's src/dst are global ranks; group_src/group_dst are ranks within the group
    if group_rank is not None:
        return group_rank
    return get_group_rank(g, 0 if global_rank is None else global_rank)


# ----------------------------------------------------------------------------- tensor collectives
_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
        ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}


# MPI reduces booleans only with logical ops: sum and max are "or", product and min are "and", as torch's
_BOOL_OPS = {ReduceOp.SUM: "LOR", ReduceOp.AVG: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
             ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND", ReduceOp.BXOR: "LXOR"}


def _mpi_op(op, a):
    if op not in _OPS:
        raise ValueError(f"unknown reduce op {op!r}; use a ReduceOp")
    return getattr(_MPI, (_BOOL_OPS if a.dtype.kind == "b" else _OPS)[op])


def _buf(t, what: str, name: str = "tensor"):
    """``t``'s array, to be handed to MPI as is."""
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of {what} to be of type "
                        f"ember.Tensor but got {type(t)} instead.")
    a = t._data
    if not a.flags.c_contiguous:  # as torch's MPI backend: MPI reads the buffer as is
        raise RuntimeError(f"{what}: input tensor has to be contiguous (got a view of shape {list(t.shape)} and "
                           f"strides {list(t.stride())})")
    return a


def _written(*tensors) -> None:
    for t in tensors:
        t._version += 1


def _average(a, n: int) -> None:
    # integers: truncated toward zero, as C's division; booleans stay the "or" of the ranks
    if a.dtype == bool:
        return
    if a.dtype.kind in "fc":
        a /= n
    else:
        a[...] = (a / n).astype(a.dtype)


def _issue(request, then, tensors, async_op: bool):
    work = Work(request, then, tensors)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``tensor`` over the group, in place on every rank."""
    g = _group(group)
    if g is None:
        return None
    a = _buf(tensor, "all_reduce")
    if a.dtype.kind == "V":  # bfloat16 (ml_dtypes): MPI has no type for it
        return _issue(*_all_reduce_gathered(g, a, op, tensor), async_op)

    def then():
        if op is ReduceOp.AVG:
            _average(a, g.size())
        _written(tensor)

    return _issue(g._comm.Iallreduce(_MPI.IN_PLACE, a, _mpi_op(op, a)), then, [tensor], async_op)


class _RepeatedSum:
    """A SUM all-reduce of one tensor's buffer, set up once and started again each time (an MPI-4
    persistent collective: MPI plans the exchange once, not at every start). Every rank of the group
    must make its own in the same order, as with any collective; DDP makes one per bucket."""

    def __init__(self, tensor: Tensor, group: ProcessGroup | None = None) -> None:
        self._tensor, self._group = tensor, _group(group)
        a = _buf(tensor, "all_reduce")
        self._req = None
        if a.dtype.kind != "V":  # bfloat16 goes through all_reduce's gather
            try:
                self._req = self._group._comm.Allreduce_init(_MPI.IN_PLACE, a, _mpi_op(ReduceOp.SUM, a))
            except (AttributeError, NotImplementedError):  # an MPI older than 4: start a new one each time
                pass
        self._then = lambda: _written(tensor)

    def start(self) -> Work:
        """Start the all-reduce; returns its Work."""
        if self._req is None:
            return all_reduce(self._tensor, group=self._group, async_op=True)
        self._req.Start()
        return Work(self._req, self._then, [self._tensor])


_COMBINE = {ReduceOp.SUM: xp.add, ReduceOp.AVG: xp.add, ReduceOp.PRODUCT: xp.multiply, ReduceOp.MIN: xp.minimum,
            ReduceOp.MAX: xp.maximum}


def _all_reduce_gathered(g: ProcessGroup, a, op, tensor):
    """All-reduce for a dtype MPI has no type for (bfloat16): gather every rank's bits, combine in rank order."""
    if op not in _COMBINE:
        raise ValueError(f"all_reduce: {op} is not defined for {tensor.dtype} tensors")
    flat = a.reshape(-1)
    stacked = xp.empty((g.size(), flat.size), a.dtype)
    bits = flat.view(xp.uint16)

    def then():
        acc = stacked[0].copy()
        for row in stacked[1:]:
            _COMBINE[op](acc, row, out=acc)  # each step rounded to the dtype, as a sum in it would be
        if op is ReduceOp.AVG:
            acc /= g.size()
        flat[...] = acc
        _written(tensor)

    return g._comm.Iallgather(bits, stacked.view(xp.uint16)), then, [tensor]


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group: ProcessGroup | None = None,
           async_op: bool = False, group_dst: int | None = None):
    """Reduce ``tensor`` over the group into rank ``dst``'s tensor (the others' are left as they were)."""
    g = _group(group)
    if g is None:
        return None
    a, root = _buf(tensor, "reduce"), _peer(g, dst, group_dst)
    mine = g.rank() == root

    def then():
        if mine:
            if op is ReduceOp.AVG:
                _average(a, g.size())
            _written(tensor)

    req = g._comm.Ireduce(_MPI.IN_PLACE if mine else a, a if mine else None, _mpi_op(op, a), root)
    return _issue(req, then, [tensor], async_op)


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, async_op: bool = False,
              group_src: int | None = None):
    """Copy rank ``src``'s tensor into every rank's ``tensor``."""
    g = _group(group)
    if g is None:
        return None
    a, root = _buf(tensor, "broadcast"), _peer(g, src, group_src)
    then = None if g.rank() == root else (lambda: _written(tensor))
    return _issue(g._comm.Ibcast(a, root), then, [tensor], async_op)


def _same(tensors, like, what: str, name: str):
    for t in tensors:
        _buf(t, what, name)
        if t.dtype != like.dtype or t.numel() != like.numel():
            raise ValueError(f"{what}: every tensor of {name} must have the input's dtype {like.dtype} and "
                             f"{like.numel()} elements, got {t.dtype} with shape {list(t.shape)}")


def _count(tensors, n: int, what: str, name: str) -> None:
    if len(tensors) != n:
        raise ValueError(f"{what}: {name} must hold one tensor per rank ({n}), got {len(tensors)}")


def _scatter_into(stacked, tensors) -> Callable[[], None]:
    def then():
        for i, t in enumerate(tensors):
            t._data.reshape(-1)[...] = stacked[i]
            _written(t)
    return then


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Every rank's ``tensor`` into ``tensor_list[rank]``, on every rank."""
    g = _group(group)
    if g is None:
        return None
    a = _buf(tensor, "all_gather")
    _count(tensor_list, g.size(), "all_gather", "tensor_list")
    _same(tensor_list, tensor, "all_gather", "tensor_list")
    stacked = xp.empty((g.size(), a.size), a.dtype)
    return _issue(g._comm.Iallgather(a, stacked), _scatter_into(stacked, tensor_list), tensor_list, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: ProcessGroup | None = None,
                           async_op: bool = False):
    """Every rank's ``input_tensor``, in rank order, into ``output_tensor`` (concatenated or stacked)."""
    g = _group(group)
    if g is None:
        return None
    out, a = _buf(output_tensor, "all_gather_into_tensor", "output_tensor"), \
        _buf(input_tensor, "all_gather_into_tensor", "input_tensor")
    if out.size != a.size * g.size() or out.dtype != a.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor must have world size ({g.size()}) times the "
                         f"input's elements and its dtype, got {list(output_tensor.shape)} {output_tensor.dtype} "
                         f"for input {list(input_tensor.shape)} {input_tensor.dtype}")
    return _issue(g._comm.Iallgather(a, out), lambda: _written(output_tensor), [output_tensor], async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False):
    """Reduce ``input`` over the group and give rank r the r-th of its world-size equal chunks."""
    g = _group(group)
    if g is None:
        return None
    out, a = _buf(output, "reduce_scatter_tensor", "output"), _buf(input, "reduce_scatter_tensor", "input")
    if a.size != out.size * g.size() or out.dtype != a.dtype:
        raise ValueError(f"reduce_scatter_tensor: input must have world size ({g.size()}) times the output's "
                         f"elements and its dtype, got input {list(input.shape)} {input.dtype} for output "
                         f"{list(output.shape)} {output.dtype}")

    def then():
        if op is ReduceOp.AVG:
            _average(out, g.size())
        _written(output)

    return _issue(g._comm.Ireduce_scatter_block(a, out, _mpi_op(op, a)), then, [output], async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op=ReduceOp.SUM, group: ProcessGroup | None = None,
                   async_op: bool = False):
    """Reduce ``input_list[r]`` over the group into rank r's ``output``."""
    g = _group(group)
    if g is None:
        return None
    _count(input_list, g.size(), "reduce_scatter", "input_list")
    _same(input_list, output, "reduce_scatter", "input_list")
    return reduce_scatter_tensor(output, Tensor._make(xp.concatenate([t._data.reshape(-1) for t in input_list])),
                                 op, g, async_op)


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst: int | None = None):
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    g = _group(group)
    if g is None:
        return None
    a, root = _buf(tensor, "gather"), _peer(g, dst, group_dst)
    if g.rank() != root:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
        return _issue(g._comm.Igather(a, None, root), None, [], async_op)
    _count(gather_list or [], g.size(), "gather", "gather_list")
    _same(gather_list, tensor, "gather", "gather_list")
    stacked = xp.empty((g.size(), a.size), a.dtype)
    return _issue(g._comm.Igather(a, stacked, root), _scatter_into(stacked, gather_list), gather_list, async_op)


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False, group_src: int | None = None):
    """``scatter_list[r]`` of rank ``src`` into rank r's ``tensor``."""
    g = _group(group)
    if g is None:
        return None
    a, root = _buf(tensor, "scatter"), _peer(g, src, group_src)
    send = None
    if g.rank() == root:
        _count(scatter_list or [], g.size(), "scatter", "scatter_list")
        _same(scatter_list, tensor, "scatter", "scatter_list")
        send = xp.concatenate([t._data.reshape(-1) for t in scatter_list])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    return _issue(g._comm.Iscatter(send, a, root), lambda: _written(tensor), [tensor], async_op)


def all_to_all(output_tensor_list: list[Tensor], input_tensor_list: list[Tensor],
               group: ProcessGroup | None = None, async_op: bool = False):
    """``input_tensor_list[r]`` of every rank q into ``output_tensor_list[q]`` of rank r (sizes may differ)."""
    g = _group(group)
    if g is None:
        return None
    for name, ts in (("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list)):
        _count(ts, g.size(), "all_to_all", name)
        for t in ts:
            _buf(t, "all_to_all", name)
    send = xp.concatenate([t._data.reshape(-1) for t in input_tensor_list])
    recv = xp.empty(sum(t.numel() for t in output_tensor_list), send.dtype)
    scounts = [t.numel() for t in input_tensor_list]
    rcounts = [t.numel() for t in output_tensor_list]
    req = g._comm.Ialltoallv([send, (scounts, _offsets(scounts))], [recv, (rcounts, _offsets(rcounts))])

    def then():
        for t, o, n in zip(output_tensor_list, _offsets(rcounts), rcounts):
            t._data.reshape(-1)[...] = recv[o:o + n]
            _written(t)

    return _issue(req, then, output_tensor_list, async_op)


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes: list[int] | None = None,
                      input_split_sizes: list[int] | None = None, group: ProcessGroup | None = None,
                      async_op: bool = False):
    """Split ``input`` along dim 0 (evenly or by ``input_split_sizes``), send split r to rank r, concatenate."""
    g = _group(group)
    if g is None:
        return None
    out, a = _buf(output, "all_to_all_single", "output"), _buf(input, "all_to_all_single", "input")
    n = g.size()
    row_in = a.size // max(a.shape[0], 1) if a.ndim else 1
    row_out = out.size // max(out.shape[0], 1) if out.ndim else 1
    scounts = [s * row_in for s in input_split_sizes] if input_split_sizes else [a.size // n] * n
    rcounts = [s * row_out for s in output_split_sizes] if output_split_sizes else [out.size // n] * n
    req = g._comm.Ialltoallv([a, (scounts, _offsets(scounts))], [out, (rcounts, _offsets(rcounts))])
    return _issue(req, lambda: _written(output), [output], async_op)


def _offsets(counts: list[int]) -> list[int]:
    out, total = [], 0
    for c in counts:
        out.append(total)
        total += c
    return out


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group has reached this call."""
    g = _group(group)
    if g is None:
        return None
    return _issue(g._comm.Ibarrier(), None, [], async_op)


# ----------------------------------------------------------------------------- point to point
def _p2p(g: ProcessGroup, tensor: Tensor, peer, group_peer, what: str):
    a = _buf(tensor, what)
    r = _peer(g, peer, group_peer)
    if r == g.rank():
        raise ValueError(f"{what}: a rank cannot exchange a tensor with itself (peer {peer})")
    return a, r


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Start sending ``tensor`` to rank ``dst``; returns the Work."""
    g = _group(group)
    if g is None:
        return None
    a, r = _p2p(g, tensor, dst, group_dst, "isend")
    return Work(g._comm.Isend(a, r, tag), None, [tensor])


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst``."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None); returns the Work."""
    g = _group(group)
    if g is None:
        return None
    if src is None and group_src is None:
        a, r = _buf(tensor, "irecv"), _MPI.ANY_SOURCE
    else:
        a, r = _p2p(g, tensor, src, group_src, "irecv")
    return Work(g._comm.Irecv(a, r, tag), lambda: _written(tensor), [tensor])


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's global rank."""
    g = _group(group)
    if g is None:
        return -1
    if src is None and group_src is None:
        a, r = _buf(tensor, "recv"), _MPI.ANY_SOURCE
    else:
        a, r = _p2p(g, tensor, src, group_src, "recv")
    status = _MPI.Status()
    g._comm.Recv(a, r, tag, status)
    _written(tensor)
    return g._ranks[status.Get_source()]


# ----------------------------------------------------------------------------- Python objects (pickled)
def broadcast_object_list(object_list: list, src: int | None = None, group: ProcessGroup | None = None,
                          device=None, group_src: int | None = None) -> None:
    """Replace ``object_list``'s items on every rank with rank ``src``'s (picklable objects)."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, src, group_src)
    object_list[:] = g._comm.bcast(list(object_list) if g.rank() == root else None, root)


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """Every rank's ``obj`` into ``object_list[rank]``, on every rank."""
    g = _group(group)
    if g is None:
        return
    _count(object_list, g.size(), "all_gather_object", "object_list")
    object_list[:] = g._comm.allgather(obj)


def gather_object(obj: Any, object_gather_list: list | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """Every rank's ``obj`` into ``object_gather_list`` on rank ``dst``."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, dst, group_dst)
    got = g._comm.gather(obj, root)
    if g.rank() == root:
        _count(object_gather_list or [], g.size(), "gather_object", "object_gather_list")
        object_gather_list[:] = got


def scatter_object_list(scatter_object_output_list: list, scatter_object_input_list: list | None = None,
                        src: int | None = None, group: ProcessGroup | None = None,
                        group_src: int | None = None) -> None:
    """Item r of rank ``src``'s ``scatter_object_input_list`` into rank r's ``scatter_object_output_list[0]``."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, src, group_src)
    if g.rank() == root:
        _count(scatter_object_input_list or [], g.size(), "scatter_object_list", "scatter_object_input_list")
    scatter_object_output_list[0] = g._comm.scatter(list(scatter_object_input_list) if g.rank() == root else None,
                                                    root)
