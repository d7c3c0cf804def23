"""Neural-network building blocks, as torch.nn."""
from . import functional, init, utils  # noqa: F401
from .parameter import Parameter, Buffer
from .modules import *  # noqa: F401,F403
from . import parallel  # noqa: E402,F401
from .parallel import DataParallel  # noqa: E402,F401  (torch.nn.DataParallel)

from .._legacy import absent_getattr as _absent_getattr  # noqa: E402

__getattr__ = _absent_getattr(__name__)  # torch.nn names ember lacks raise NotImplementedError naming them
