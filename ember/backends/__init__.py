"""ember.backends: the flags scripts set or read (``cudnn.benchmark``, ``cuda.matmul.allow_tf32``,
``mps.is_available()``), answering as torch's CPU build; ember has one backend, NumPy, so they change nothing."""
from . import cuda, cudnn, mha, mps  # noqa: F401
