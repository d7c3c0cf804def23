"""torch.cpu: the one device ember has (``torch.cpu.is_available()`` is True; synchronising does nothing)."""
from __future__ import annotations


def is_available() -> bool:
    """True."""
    return True


def device_count() -> int:
    """1, as torch counts the CPU."""
    return 1


def current_device() -> str:
    """``"cpu"``."""
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: every op has finished when it returns."""


def is_initialized() -> bool:
    """True."""
    return True
