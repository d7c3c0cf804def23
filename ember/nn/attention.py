"""``torch.nn.attention``: the ``SDPBackend`` names and ``sdpa_kernel``, which picks the kernels
``scaled_dot_product_attention`` may use, with the answers torch's CPU build gives.

On the CPU torch has two kernels: flash attention (4-D inputs of one batch size, equal head dims, no dropout,
unit stride in the last dim) and the math one (anything). With neither allowed, or only flash allowed for inputs it
cannot take, the call raises torch's RuntimeError; otherwise ember computes the same attention either way.
"""
from __future__ import annotations

import contextlib
import enum
import functools
import warnings

from ..backends import cuda as _cuda

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.Enum):
    """The attention kernels torch names (the CPU has FLASH_ATTENTION and MATH)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self) -> int:
        return self.value

    def __hash__(self) -> int:
        return hash(self.value)


# each backend's switch in ember.backends.cuda (torch.backends.cuda.*_sdp_enabled); OVERRIDEABLE has none there
_FLAGS = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash", SDPBackend.EFFICIENT_ATTENTION: "mem_efficient",
          SDPBackend.CUDNN_ATTENTION: "cudnn"}
_overrideable = [True]


def _enabled() -> list:
    on = [b for b, flag in _FLAGS.items() if _cuda._sdp[flag]]
    return on + [SDPBackend.OVERRIDEABLE] if _overrideable[0] else on


def _enable(backends) -> None:
    for backend, flag in _FLAGS.items():
        _cuda._sdp[flag] = backend in backends
    _overrideable[0] = SDPBackend.OVERRIDEABLE in backends


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Allow only ``backends`` (an SDPBackend or a list of them) inside the block; the switches are restored
    after it (``set_priority`` orders GPU kernels: nothing to order on the CPU)."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    previous = _enabled()
    _enable([backends] if isinstance(backends, SDPBackend) else backends)
    try:
        yield {}
    finally:
        _enable(previous)


def _flash_refusal(query, key, value, attn_mask, dropout_p: float) -> str | None:
    """Why torch's CPU flash kernel would not take these inputs (its first reason), or None."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    if not query.dim() == key.dim() == value.dim() == 4:
        return (f"All fused kernels requires query, key and value to be 4 dimensional, but got Query dim: "
                f"{query.dim()}, Key dim: {key.dim()}, Value dim: {value.dim()} instead.")
    if not query.shape[0] == key.shape[0] == value.shape[0]:
        return (f"For dense inputs, both fused kernels require query, key and value to have the same batch_size. "
                f"Query.sizes(): {list(query.shape)}, Key.sizes(): {list(key.shape)}, Value.sizes(): "
                f"{list(value.shape)} instead. To broadcast dense inputs, try using unsqueeze and expand_to before "
                "passing them into the kernel.")
    if not query.shape[-1] == key.shape[-1] == value.shape[-1]:
        return (f"Flash attention requires q,k,v to have the same last dimension. Got Query.size(-1): "
                f"{query.shape[-1]}, Key.size(-1): {key.shape[-1]}, Value.size(-1): {value.shape[-1]} instead.")
    strides = [t.stride(-1) for t in (query, key, value)]
    if strides != [1, 1, 1]:
        said = (f"All fused kernels require the last dimension of the input to have stride 1. Got Query.stride(-1): "
                f"{strides[0]}, Key.stride(-1): {strides[1]}, Value.stride(-1): {strides[2]}")
        if attn_mask is None:
            return said
        return (f"{said}, Attn_mask.stride(-1): {attn_mask.stride(-1)} (GPU backends require attn_mask's last "
                "dimension to have stride 1 while the CPU does not).")
    return None


def check_backend(query, key, value, attn_mask=None, dropout_p: float = 0.0) -> None:
    """Raise torch's RuntimeError when no allowed CPU kernel can run this attention (warning why flash could not)."""
    flash, math = _cuda._sdp["flash"], _cuda._sdp["math"]
    if math:
        return
    if not flash:
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")
    reason = _flash_refusal(query, key, value, attn_mask, dropout_p)
    if reason is not None:
        warnings.warn("Flash attention kernel not used because:")
        warnings.warn(reason)
        raise RuntimeError("No available kernel.  Aborting execution.")


def respecting_backends(sdpa):
    """``scaled_dot_product_attention`` that first asks ``check_backend`` (what ``sdpa_kernel`` allows)."""
    @functools.wraps(sdpa)
    def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                     is_causal: bool = False, scale=None, enable_gqa: bool = False):
        if not _cuda._sdp["math"]:
            check_backend(query, key, value, attn_mask, dropout_p)
        return sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    return scaled_dot_product_attention
