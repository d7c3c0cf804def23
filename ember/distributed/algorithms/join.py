"""Training on uneven inputs, as torch.distributed.algorithms.join.

A rank that runs out of batches leaves the ``with Join(...)`` block early; until every rank has
left it, it "shadows" each iteration of the others: its join hooks issue the collectives that an
iteration of the others issues (DistributedDataParallel's: zero gradients to the all-reduces), so
no rank waits for ever. The ranks still training announce themselves with one all-reduce of ones
per iteration (``notify_join_context``); the joined ranks all-reduce zeros against it, and the sum
is the number of ranks still training. When it is 0, every rank runs its post-hooks.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

from ..._tensor import Tensor
from ..._backend import xp
from .. import process_group as dist

__all__ = ["Join", "JoinHook", "Joinable"]


class JoinHook:
    """What a joined rank does: ``main_hook`` once per iteration of the others, ``post_hook`` at the end."""

    def main_hook(self) -> None:
        """Issue the collectives of one training iteration (while some rank is still training)."""

    def post_hook(self, is_last_joiner: bool) -> None:
        """Run once every rank has joined; ``is_last_joiner``: this rank was among the last to."""


class _JoinConfig(NamedTuple):
    enable: bool
    throw_on_early_termination: bool
    is_first_joinable: bool


_DISABLED = _JoinConfig(enable=False, throw_on_early_termination=False, is_first_joinable=False)


class Joinable(ABC):
    """A class that can take part in a Join: it gives a ``join_hook``, a ``join_device`` and a ``join_process_group``."""

    @abstractmethod
    def __init__(self) -> None:
        super().__init__()
        self._join_config = _DISABLED

    @abstractmethod
    def join_hook(self, **kwargs) -> JoinHook:
        """The hook that shadows this object's collectives once its rank has joined."""

    @property
    @abstractmethod
    def join_device(self) -> Any:
        """The device of the join's own collectives."""

    @property
    @abstractmethod
    def join_process_group(self) -> Any:
        """The process group of the join's own collectives."""


def _one(value: float) -> Tensor:
    return Tensor._make(xp.full(1, value, xp.float32))


class Join:
    """Context manager for ranks with uneven numbers of batches.

    Args:
        joinables: the objects taking part (a DistributedDataParallel model, ...); their hooks run in this order.
        enable: False makes the manager do nothing (inputs known to be even).
        throw_on_early_termination: raise a RuntimeError on every rank as soon as one runs out of inputs.
        kwargs: passed to every ``join_hook`` (DDP's ``divide_by_initial_world_size``).

    Example::

        >>> with Join([ddp_model]):
        ...     for x, y in my_share:            # a different number of batches on each rank
        ...         loss_fn(ddp_model(x), y).backward()
    """

    def __init__(self, joinables: list, enable: bool = True, throw_on_early_termination: bool = False,
                 **kwargs) -> None:
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = joinables
        self._join_hooks = [j.join_hook(**kwargs) for j in joinables]
        self._enable, self._throw_on_early_termination = enable, throw_on_early_termination
        for i, j in enumerate(joinables):
            j._join_config = _JoinConfig(enable, throw_on_early_termination, i == 0)
        self._process_group = joinables[0].join_process_group
        if any(j.join_process_group is not self._process_group for j in joinables):
            raise ValueError("Using join context manager with multiple process groups")
        self._rank = dist.get_rank(self._process_group)

    def __enter__(self) -> Join:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if not self._enable or kind is not None:
            return  # an exception propagates as it is
        is_last_joiner, shadowed = True, 0
        while True:
            still_training = _one(0.0)
            dist.all_reduce(still_training, group=self._process_group)  # meets the others' notify_join_context
            if still_training._data[0] == 0:
                break
            if self._throw_on_early_termination:
                dist.all_reduce(_one(1.0), group=self._process_group)
                raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")
            for hook in self._join_hooks:
                hook.main_hook()
            is_last_joiner = False
            shadowed += 1
            if shadowed == 1001:
                warnings.warn(f"Detected uneven input skew of greater than 1000. This means that rank {self._rank} "
                              "has at least 1000 fewer inputs than other currently-active ranks. This level of skew "
                              "could lead to performance degradation during training.", stacklevel=2)
        for hook in self._join_hooks:
            hook.post_hook(is_last_joiner)

    @staticmethod
    def notify_join_context(joinable: Joinable):
        """Tell the joined ranks that this one is still training (call before each iteration's collectives).

        Returns the all-reduce's Work (its tensor ends as the number of ranks still training) for the
        first joinable of an enabled Join, else None. With ``throw_on_early_termination`` it raises a
        RuntimeError once some rank has run out of inputs.
        """
        config = getattr(joinable, "_join_config", None)
        if config is None:
            raise AssertionError(f"Check that the {type(joinable)} constructor calls the ``Joinable`` constructor")
        if not config.is_first_joinable or not config.enable:
            return None
        group = joinable.join_process_group
        work = dist.all_reduce(_one(1.0), group=group, async_op=True)
        if config.throw_on_early_termination:
            joined = _one(0.0)
            dist.all_reduce(joined, group=group)
            if joined._data[0]:
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing across all ranks.")
        return work
