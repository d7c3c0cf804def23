"""torch.amp: loss scaling (a real GradScaler, as torch's CPU one) and autocast regions (torch's CPU op lists)."""
from .autocast_mode import autocast, is_autocast_available, is_autocast_enabled, get_autocast_dtype
from .custom import custom_bwd, custom_fwd
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype", "custom_fwd", "custom_bwd",
           "is_autocast_available"]
