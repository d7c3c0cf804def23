"""Neural-network building blocks, as torch.nn."""
from . import functional, init, utils  # noqa: F401
from .parameter import Parameter, Buffer
from .modules import *  # noqa: F401,F403
from . import parallel  # noqa: E402,F401
