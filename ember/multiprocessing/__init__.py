"""``torch.multiprocessing``: Python's multiprocessing, plus torch's ``spawn`` / ``start_processes`` launcher.

Tensors cross process boundaries by pickling (their values, dtype and ``requires_grad``), so a tensor put on a
``Queue`` arrives with the same values. Unlike torch, the storage is copied, not shared: an in-place update in a
child is not seen by the parent (torch moves storages to shared memory; NumPy arrays have no such hook).
"""
from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import *  # noqa: F401,F403  (torch.multiprocessing re-exports all of multiprocessing)
from multiprocessing import get_all_start_methods, get_start_method, set_start_method  # noqa: F401

from .spawn import ProcessContext, ProcessExitedException, ProcessRaisedException, spawn, start_processes

__all__ = multiprocessing.__all__ + ["spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
                                     "ProcessExitedException", "set_sharing_strategy", "get_sharing_strategy",
                                     "get_all_sharing_strategies"]

_SHARING = {"file_descriptor", "file_system"} if sys.platform != "darwin" else {"file_system"}
_sharing = ["file_descriptor" if "file_descriptor" in _SHARING else "file_system"]


def set_sharing_strategy(new_strategy: str) -> None:
    """Record the strategy torch would share storages with (one of ``get_all_sharing_strategies()``)."""
    assert new_strategy in _SHARING
    _sharing[0] = new_strategy


def get_sharing_strategy() -> str:
    """The strategy last set (``file_descriptor`` on Linux by default, as torch)."""
    return _sharing[0]


def get_all_sharing_strategies() -> set:
    """The strategies this platform supports."""
    return set(_SHARING)
