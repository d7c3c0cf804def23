"""A torchrun-like launcher that starts the processes with MPI's ``mpiexec``.

Run: python -m ember.distributed.run --nproc-per-node 2 train.py [args...]
     python -m ember.distributed.run --nproc-per-node 4 --hostfile hosts -m mypackage.train [args...]

Each process runs ``python train.py args...``; ``init_process_group("mpi")`` in it finds the
others. Unless ``OMP_NUM_THREADS`` is set it is set to 1, as torchrun does, so that the processes
on a machine do not compete for its cores with threads of their own.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys


def find_mpiexec() -> str:
    """The ``mpiexec`` beside this Python (the ``mpich`` wheel puts it there), else the first on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise SystemExit("ember.distributed.run: no mpiexec found; pip install 'ember[distributed]' "
                         "(mpi4py and mpich) or install an MPI library")
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: how many processes, where, and the program with its arguments."""
    p = argparse.ArgumentParser(prog="python -m ember.distributed.run", description=__doc__.splitlines()[0],
                                allow_abbrev=False)
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, help="processes per machine")
    p.add_argument("--nnodes", type=int, default=1, help="machines (with --hostfile; default 1)")
    p.add_argument("--hostfile", default=None, help="MPI host file: one machine name per line")
    p.add_argument("-m", "--module", action="store_true", help="run the program as a module (python -m)")
    p.add_argument("--no-python", action="store_true", help="run the program directly, not with python")
    p.add_argument("program")
    p.add_argument("args", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def command(args: argparse.Namespace) -> list[str]:
    """The mpiexec command line that runs the job."""
    cmd = [find_mpiexec(), "-n", str(args.nproc_per_node * args.nnodes)]
    if args.hostfile:
        cmd += ["-f", args.hostfile, "-ppn", str(args.nproc_per_node)]
    program = [args.program] if args.no_python else [sys.executable] + (["-m"] if args.module else []) + [args.program]
    return cmd + program + list(args.args)


def main(argv: list[str] | None = None) -> int:
    """Start the job and return its exit status (non-zero if any process failed)."""
    args = parse_args(argv)
    env = dict(os.environ)
    if args.nproc_per_node > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
    try:
        return subprocess.call(command(args), env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
