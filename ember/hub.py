"""``torch.hub``'s progress bar, which training scripts import from here (``from torch.hub import tqdm``).

Loading models from GitHub or URLs (``load``, ``load_state_dict_from_url``, ...) is not implemented: those
raise NotImplementedError naming what is missing.
"""
from __future__ import annotations

from typing import Callable, Iterable

from ._legacy import absent_function

try:  # as torch.hub: the tqdm package's bar when it is installed
    from tqdm import tqdm
except ImportError:
    class tqdm:  # noqa: N801  (torch's name)
        """A silent stand-in for tqdm: iterates, counts, and accepts the calls scripts make on a bar."""

        def __init__(self, iterable: Iterable | None = None, desc: str | None = None, total: int | None = None,
                     disable: bool = False, unit: str = "it", unit_scale: bool = False, unit_divisor: int = 1000,
                     **kwargs) -> None:
            self.iterable, self.desc, self.total, self.n = iterable, desc, total, 0
            if total is None and hasattr(iterable, "__len__"):
                self.total = len(iterable)

        def __iter__(self):
            for item in self.iterable:
                yield item
                self.n += 1

        def __len__(self) -> int:
            return self.total

        def update(self, n: int = 1) -> None:
            self.n += n

        def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
            self.postfix = dict(ordered_dict or {}, **kwargs)

        def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
            self.desc = desc

        def close(self) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.close()


load = absent_function("torch.hub.load")
list = absent_function("torch.hub.list")  # noqa: A001  (torch's name)
help = absent_function("torch.hub.help")  # noqa: A001
load_state_dict_from_url = absent_function("torch.hub.load_state_dict_from_url")
download_url_to_file = absent_function("torch.hub.download_url_to_file")
get_dir = absent_function("torch.hub.get_dir")
set_dir = absent_function("torch.hub.set_dir")
