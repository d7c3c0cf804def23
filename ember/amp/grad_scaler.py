"""Loss scaling, as torch.amp.GradScaler: on the CPU torch's scaler is real (it scales, unscales, skips steps
whose gradients overflowed and adapts the scale), so ember's is too; a scaler for CUDA disables itself."""
from __future__ import annotations

import math
import warnings

from .._backend import xp
from .._dtype import float16
from .._tensor import Tensor


class GradScaler:
    """Scale the loss so small gradients survive low precision; unscale them before the optimizer steps.

    Args:
        device: ``"cpu"`` gives a working scaler; ``"cuda"`` (torch's default) warns and disables it, as
            torch's CPU build does.
        init_scale, growth_factor, backoff_factor, growth_interval: the scale starts at ``init_scale``, is
            multiplied by ``growth_factor`` after ``growth_interval`` steps without inf/NaN gradients and by
            ``backoff_factor`` after a step that had them (that step is skipped).
        enabled: False makes every method pass through.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = str(device)
        if enabled and self._device.split(":")[0] == "cuda":
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.")
            enabled = False
        self._enabled = enabled
        if enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale, self._growth_factor, self._backoff_factor = init_scale, growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._scale: float | None = None
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}

    # ------------------------------------------------------------------------------------- the loop
    def scale(self, outputs):
        """``outputs`` (a tensor or nested lists/tuples of them) times the current scale."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = float(self._init_scale)
        if isinstance(outputs, Tensor):
            from .._factories import tensor
            return outputs * tensor(self._scale, dtype=outputs.dtype if outputs.is_floating_point() else None)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "stepped": False, "found_inf": False})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale (in place) and note whether any is inf or NaN."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stepped"]:
            raise RuntimeError("unscale_() is being called after step().")
        assert self._scale is not None, "Attempted unscale_ but _scale is None."
        from .._factories import tensor
        inv = tensor(1.0 / self._scale)  # as torch: the reciprocal in float64, applied in float32
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not isinstance(g, Tensor):  # a sparse gradient (Embedding(sparse=True)): its stored values
                    if g.dtype is float16:  # as torch: duplicates summed first (their sum may overflow)
                        g = p.grad = g.coalesce()
                    g = g._values()
                found = found or not bool(g.isfinite().all())
                g.mul_(inv.to(g.dtype))
        state["unscaled"], state["found_inf"] = True, found

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()``, unless the (unscaled) gradients hold inf or NaN: then the step is skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stepped"]:
            raise RuntimeError("step() has already been called since the last update().")
        if not state["unscaled"]:
            self.unscale_(optimizer)
        state["stepped"] = True
        return None if state["found_inf"] else optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Grow, back off, or set the scale for the next iteration."""
        if not self._enabled:
            return
        if self._scale is None:
            raise AssertionError("Attempted update but _scale is None.  This may indicate your script did not use "
                                 "scaler.scale(loss or outputs) earlier in the iteration.")
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            stepped = [s for s in self._per_optimizer.values() if s["unscaled"]]
            if not stepped:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(s["found_inf"] for s in stepped):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    self._scale = grown if math.isfinite(grown) else self._scale
                    self._growth_tracker = 0
            self._scale = float(_f32(self._scale))
        self._per_optimizer.clear()

    # ------------------------------------------------------------------------------------- bookkeeping
    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """Scale and growth settings (empty when disabled), as torch's."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        self._scale = float(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = state_dict["_growth_tracker"]


def _f32(x: float) -> float:
    """x rounded to float32, as torch keeps the scale in a float32 tensor."""
    return float(xp.float32(x))
