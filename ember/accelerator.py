"""torch.accelerator as torch's CPU build answers it: there is no accelerator.

``device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"`` (how
current pytorch/examples scripts begin) picks the CPU. Calls that need a device raise torch's RuntimeError,
which is also a NotImplementedError naming the call.
"""
from __future__ import annotations


class NoAccelerator(NotImplementedError):
    """Raised by calls that need an accelerator device: a RuntimeError, as torch's CPU build raises."""


def is_available(check_device: bool = False) -> bool:
    """False: ember runs on the CPU only."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator."""
    return None


def device_count() -> int:
    """0: there is no accelerator."""
    return 0


def _needs_device(name: str):
    def call(*args, **kwargs):
        raise NoAccelerator(f"Cannot access accelerator device when none is available. "
                            f"(torch.accelerator.{name}: ember runs on the CPU only)")
    call.__name__ = call.__qualname__ = name
    call.__doc__ = "Raises: there is no accelerator (as torch's CPU build)."
    return call


current_device_index = current_device_idx = _needs_device("current_device_index")
set_device_index = set_device_idx = _needs_device("set_device_index")
synchronize = _needs_device("synchronize")
current_stream = _needs_device("current_stream")
set_stream = _needs_device("set_stream")
empty_cache = _needs_device("empty_cache")
memory_allocated = _needs_device("memory_allocated")
max_memory_allocated = _needs_device("max_memory_allocated")
memory_reserved = _needs_device("memory_reserved")
max_memory_reserved = _needs_device("max_memory_reserved")
memory_stats = _needs_device("memory_stats")
get_memory_info = _needs_device("get_memory_info")
reset_peak_memory_stats = _needs_device("reset_peak_memory_stats")


class device_index:
    """Context manager selecting an accelerator by index; ``None`` does nothing, any index raises."""

    def __init__(self, device_index: int | None) -> None:
        self.idx = device_index

    def __enter__(self) -> None:
        if self.idx is not None:
            set_device_index(self.idx)

    def __exit__(self, *exc) -> None:
        pass
