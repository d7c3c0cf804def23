"""Neural-network building blocks, as torch.nn."""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from .parameter import Parameter, Buffer
from .modules import *  # noqa: F401,F403
from .modules import Module  # noqa: F401
from . import utils  # noqa: F401
from .modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401,E402
from .modules.pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,  # noqa: F401,E402
                              AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d)
from .modules.normalization import BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, RMSNorm  # noqa: F401,E402
from .modules.upsampling import Upsample, PixelShuffle, PixelUnshuffle  # noqa: F401,E402
from .modules.rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401,E402
from .modules.attention import MultiheadAttention  # noqa: F401,E402
from .modules.transformer import TransformerEncoderLayer, TransformerEncoder  # noqa: F401,E402
