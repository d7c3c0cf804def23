"""``skip_init``: build a module without running its parameter initialisation's draws."""
from __future__ import annotations

import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with uninitialised parameters: the default generator is left untouched."""
    from ..modules.module import Module
    from ...random import fork_rng
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    # ember has no meta device: build normally, then restore the generator, so the stream is as torch's leaves it
    with fork_rng():
        module = module_cls(*args, **kwargs)
    return module.to(final_device)
