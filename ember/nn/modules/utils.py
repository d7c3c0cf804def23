"""torch.nn.modules.utils: the argument helpers custom layers import (``_pair(3) == (3, 3)``)."""
from __future__ import annotations

import collections.abc
import itertools


def _ntuple(n: int, name: str = "parse"):
    """A function that repeats a scalar ``n`` times and passes an iterable through as a tuple."""
    def parse(x) -> tuple:
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(itertools.repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n: int) -> tuple:
    """Reverse ``t`` and repeat each element ``n`` times (conv padding for F.pad)."""
    return tuple(x for x in reversed(t) for _ in range(n))


def consume_prefix_in_state_dict_if_present(state_dict: dict, prefix: str) -> None:
    """Strip ``prefix`` from the keys of ``state_dict`` in place (a DataParallel/DDP checkpoint's "module.")."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in [k for k in metadata if k == prefix.rstrip(".") or k.startswith(prefix)]:
            new = "" if key == prefix.rstrip(".") else key[len(prefix):]
            metadata[new] = metadata.pop(key)
