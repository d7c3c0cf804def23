"""Algorithms over the process groups, as torch.distributed.algorithms: ``Join`` and DDP communication hooks."""
from .join import Join, Joinable, JoinHook

__all__ = ["Join", "JoinHook", "Joinable"]
