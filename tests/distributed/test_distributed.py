"""ember.distributed, DistributedDataParallel and SyncBatchNorm in real MPI jobs of 2 and 3 ranks.

One ``mpiexec`` job per world size runs every check of ``mpi_checks.py`` (collectives against
NumPy, DDP against one process on the whole batch and against torch's DDP over gloo); each check
becomes a test here. Every job is bounded in time and its process group killed if it overruns.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import ember.distributed as dist
from ember.distributed import run as launcher

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpi_checks  # noqa: E402

TIMEOUT = 120  # seconds for one job, far above its usual ~25 s on two busy cores


def launch(cmd: list[str], env: dict | None = None, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run ``cmd`` in a session of its own; on timeout kill that whole process group and fail."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s:\n{out}")
    return proc.returncode, out


JOBS = {2: ["collectives", "ddp", "torch"], 3: ["collectives"]}


def run_job(world: int, rendezvous: str) -> tuple[int, str, dict]:
    """Run every check of the ``world``-rank job: exit status, output, and name -> (passed, report)."""
    rc, out = launch([launcher.find_mpiexec(), "-n", str(world), sys.executable, os.path.join(HERE, "mpi_checks.py"),
                      *JOBS[world]], {"EMBER_TEST_RENDEZVOUS": rendezvous})
    found, current = {}, None
    for line in out.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            current = line[5:].split(":", 1)[0].strip()
            found[current] = (line.startswith("PASS"), line)
        elif current is not None and not found[current][0]:
            found[current] = (False, found[current][1] + "\n" + line)
    return rc, out, found


# one job per world size, each test reporting every check (a check per test would start a job per xdist worker)
@pytest.mark.parametrize("world", sorted(JOBS))
def test_checks_in_mpi_job(world, tmp_path):
    rc, out, found = run_job(world, str(tmp_path / "rendezvous"))
    names = [name for name, (_, group) in mpi_checks.CHECKS.items() if group in JOBS[world]]
    missing = [name for name in names if name not in found]
    failed = [found[name][1] for name in names if name in found and not found[name][0]]
    assert not missing and not failed and rc == 0, (f"{world} ranks, exit status {rc}; did not report: {missing}\n"
                                                    + "\n".join(failed) + ("" if failed else out[-4000:]))
    assert len(names) >= 5


def test_a_failing_rank_ends_the_job_nonzero():
    # through the launcher: rank 1 raises at step 3 while rank 0 waits in the next collective
    rc, out = launch([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                      os.path.join(HERE, "mpi_checks.py"), "crash"], timeout=60)
    assert rc != 0, out
    assert "rank 1 fails on purpose" in out


def test_a_rank_leaving_with_sys_exit_ends_the_job_after_the_timeout():
    # not an exception, so no excepthook: the leaving rank waits for the others at exit, up to the timeout
    start = time.monotonic()
    rc, out = launch([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                      os.path.join(HERE, "mpi_checks.py"), "early_exit"], timeout=60)
    assert rc != 0, out
    assert "did not reach the end of the program within the timeout (0:00:02)" in out
    assert "rank 0 finished" not in out
    assert time.monotonic() - start < 45


def test_other_backends_name_mpi():
    for backend in ("gloo", "nccl"):
        with pytest.raises(RuntimeError, match='backend="mpi"'):
            dist.init_process_group(backend)
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()


def test_launcher_command():
    args = launcher.parse_args(["--nproc-per-node", "4", "--hostfile", "hosts", "--nnodes", "2", "-m", "pkg.train",
                                "--lr", "0.1"])
    cmd = launcher.command(args)
    assert cmd[1:] == ["-n", "8", "-f", "hosts", "-ppn", "4", sys.executable, "-m", "pkg.train", "--lr", "0.1"]
    # the program's own options stay the program's, even where they look like the launcher's
    args = launcher.parse_args(["--nproc-per-node", "2", "train.py", "--nnodes", "5", "-m", "--hostfile", "h"])
    assert launcher.command(args)[1:] == ["-n", "2", sys.executable, "train.py", "--nnodes", "5", "-m", "--hostfile",
                                          "h"]


def test_mnist1d_example_distributed_prints_what_one_process_prints(tmp_path):
    # the MNIST-1D CNN has no batch norm: two ranks on half batches follow the single process to rounding
    def lines(out: str) -> list[str]:  # progress and the accuracy table, without the seconds
        return [" ".join(w for w in line.split() if not w.startswith("[") and not w.endswith("s"))
                for line in out.splitlines() if "loss=" in line or line.startswith("cnn")]

    args = ["-m", "ember.examples.mnist1d", "--models", "cnn", "--steps", "12", "--eval-every", "6", "--plain"]
    rc1, single = launch([sys.executable, *args, "--out", str(tmp_path / "one")])
    rc2, multi = launch([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", *args,
                         "--out", str(tmp_path / "two"), "--distributed"])
    assert rc1 == 0 and rc2 == 0, single + multi
    assert len(lines(single)) >= 3 and lines(multi) == lines(single), (single, multi)
    assert (tmp_path / "two" / "cnn.safetensors").exists()
