"""torch.version as a CPU build reports it: no CUDA, no ROCm (``torch.version.cuda is None`` picks the CPU path)."""
from . import __version__  # noqa: F401  (ember is fully imported before any of its submodules)

cuda = None
hip = None
debug = False
