"""ember.cuda: ember runs on the CPU only, so this answers as torch's CPU build does.

``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU; the seeding, cache and memory
calls that scripts make unconditionally do nothing or return 0; calls that need a device raise torch's
AssertionError ("Torch not compiled with CUDA enabled"), which is also a NotImplementedError naming the call.
"""
from __future__ import annotations

from . import amp  # noqa: F401


class CudaUnavailable(AssertionError, NotImplementedError):
    """Raised by calls that need a CUDA device: an AssertionError as torch's CPU build raises."""


def unavailable(device) -> NotImplementedError:
    """The error for a tensor or module sent to a device ember lacks: torch's CPU build raises AssertionError for
    CUDA (CudaUnavailable is one, and a RuntimeError); any other device gets a NotImplementedError naming it."""
    msg = f"ember: device '{device}' is not available (only 'cpu' in this build)"
    if str(device).split(":")[0] == "cuda":
        return CudaUnavailable(f"Torch not compiled with CUDA enabled ({msg})")
    return NotImplementedError(msg)


def _no_cuda(what: str):
    return CudaUnavailable(f"Torch not compiled with CUDA enabled (torch.cuda.{what}: ember runs on the CPU only)")


def is_available() -> bool:
    """False: there is no CUDA device."""
    return False


def device_count() -> int:
    """0: there is no CUDA device."""
    return 0


def is_initialized() -> bool:
    """False: CUDA is never initialised."""
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: there is no CUDA device."""
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed (torch ignores this call when CUDA is absent)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed (torch ignores this call when CUDA is absent)."""


def seed_all() -> None:
    """Nothing to seed."""


def empty_cache() -> None:
    """Nothing to free."""


def memory_allocated(device=None) -> int:
    """0 bytes: nothing lives on a CUDA device."""
    return 0


def max_memory_allocated(device=None) -> int:
    """0 bytes: nothing lives on a CUDA device."""
    return 0


def memory_reserved(device=None) -> int:
    """0 bytes: nothing lives on a CUDA device."""
    return 0


def max_memory_reserved(device=None) -> int:
    """0 bytes: nothing lives on a CUDA device."""
    return 0


def _needs_device(name: str):
    def call(*args, **kwargs):
        raise _no_cuda(name)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = "Raises: there is no CUDA device (as torch's CPU build)."
    return call


current_device = _needs_device("current_device")
set_device = _needs_device("set_device")
synchronize = _needs_device("synchronize")
get_device_name = _needs_device("get_device_name")
get_device_capability = _needs_device("get_device_capability")
get_device_properties = _needs_device("get_device_properties")
reset_peak_memory_stats = _needs_device("reset_peak_memory_stats")
Event = _needs_device("Event")
Stream = _needs_device("Stream")
current_stream = _needs_device("current_stream")
stream = _needs_device("stream")


class CudaTypeUnavailable(TypeError, NotImplementedError):
    """Raised by the legacy CUDA tensor types (a TypeError, as torch's CPU build raises)."""


def _cuda_type(name: str) -> type:
    def __new__(cls, *args, **kwargs):
        raise CudaTypeUnavailable(f"type torch.cuda.{name} not available. Torch not compiled with CUDA enabled. "
                                  "(ember runs on the CPU only)")
    return type(name, (), {"__new__": __new__, "__doc__": f"torch.cuda.{name}: unavailable without CUDA."})


FloatTensor, DoubleTensor, HalfTensor = _cuda_type("FloatTensor"), _cuda_type("DoubleTensor"), _cuda_type("HalfTensor")
LongTensor, IntTensor, ShortTensor = _cuda_type("LongTensor"), _cuda_type("IntTensor"), _cuda_type("ShortTensor")
CharTensor, ByteTensor, BoolTensor = _cuda_type("CharTensor"), _cuda_type("ByteTensor"), _cuda_type("BoolTensor")
