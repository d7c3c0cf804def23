"""DataParallel: torch's single-process wrapper, which on a CPU-only build just runs the module."""
from __future__ import annotations

from typing import Any

from ..modules.module import Module


class DataParallel(Module):
    """Runs ``module`` as is: with no GPUs there is nothing to split the batch over (torch's CPU behaviour).

    ``.module`` is the wrapped model and state-dict keys carry the ``module.`` prefix, as in torch.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list = []
        self.output_device, self.dim = None, dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
