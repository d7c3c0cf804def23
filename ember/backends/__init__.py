"""ember.backends: the flags scripts set or read (``cudnn.benchmark``, ``mps.is_available()``); CPU only."""
from . import cudnn, mps  # noqa: F401
