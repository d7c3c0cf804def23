"""torch.backends.cuda: the matmul and attention-kernel switches scripts set. ember has no CUDA, so they change
nothing; ``matmul.allow_tf32`` mirrors ``torch.get_float32_matmul_precision()`` as torch's does."""
from __future__ import annotations

import contextlib

_precision = ["highest"]  # shared with ember.set_float32_matmul_precision
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """False: ember is not built with CUDA."""
    return False


class _CuBLAS:
    """``torch.backends.cuda.matmul``: only torch's attribute names may be set, as torch checks."""

    _FLAGS = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
              "allow_fp16_accumulation")

    def __init__(self) -> None:
        for name in self._FLAGS:
            object.__setattr__(self, name, name != "allow_fp16_accumulation")

    @property
    def allow_tf32(self) -> bool:
        return _precision[0] != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _precision[0] = "high" if value else "highest"

    def __setattr__(self, name: str, value) -> None:
        if name != "allow_tf32" and name not in self._FLAGS:
            raise AttributeError(f"Unknown attribute {name}")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        raise AttributeError(f"Unknown attribute {name}")


matmul = _CuBLAS()


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def cudnn_sdp_enabled() -> bool:
    return _sdp["cudnn"]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp["flash"] = enabled


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp["mem_efficient"] = enabled


def enable_math_sdp(enabled: bool) -> None:
    _sdp["math"] = enabled


def enable_cudnn_sdp(enabled: bool) -> None:
    _sdp["cudnn"] = enabled


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True, enable_mem_efficient: bool = True,
               enable_cudnn: bool = True):
    """Set the attention-kernel switches for a region (ember's attention has one kernel, so only the flags move)."""
    saved = dict(_sdp)
    _sdp.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient, cudnn=enable_cudnn)
    try:
        yield
    finally:
        _sdp.update(saved)
