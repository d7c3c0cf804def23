"""torch.amp stand-ins: ember has no mixed precision, so autocast is a no-op and GradScaler passes through."""
from .._legacy import autocast


class GradScaler:
    """A scaler that never scales: ``scale(loss)`` is ``loss``, ``step(opt)`` is ``opt.step()``."""

    def __init__(self, device: str = "cpu", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._enabled = enabled

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer) -> None:
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        pass

    def get_scale(self) -> float:
        return 1.0

    def is_enabled(self) -> bool:
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass


__all__ = ["autocast", "GradScaler"]
