"""torch.cuda.amp: the CUDA spellings of GradScaler and autocast; with no CUDA both disable themselves (with
torch's warnings), so a script written for a GPU runs on the CPU in full precision."""
from __future__ import annotations

from .. import amp as _amp


class GradScaler(_amp.GradScaler):
    """``torch.amp.GradScaler("cuda", ...)``: disabled, as CUDA is absent."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class autocast(_amp.autocast):
    """``torch.autocast("cuda", ...)``: disabled, as CUDA is absent."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
