"""The layers of ember.nn, as torch.nn.modules."""
from .module import Module
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Identity, Linear, Bilinear
from .activation import (ReLU, ReLU6, LeakyReLU, ELU, SELU, GELU, SiLU, Mish, Softplus, Tanh, Sigmoid, Hardtanh,
                         Softmax, LogSoftmax, Softmin, CELU, Hardsigmoid, Hardswish, LogSigmoid, Softsign,
                         Tanhshrink, Threshold, Hardshrink, Softshrink, GLU, RReLU, PReLU, Softmax2d)
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
                      AdaptiveMaxPool1d, AdaptiveMaxPool2d, MaxUnpool1d, MaxUnpool2d, LPPool1d, LPPool2d,
                      MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d, MaxUnpool3d, LPPool3d)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm
from .normalization import CrossMapLRN2d
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from ._sync_batchnorm import SyncBatchNorm
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout
from .sparse import Embedding, EmbeddingBag
from .flatten import Flatten, Unflatten
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle
from .channelshuffle import ChannelShuffle
from .distance import CosineSimilarity, PairwiseDistance
from .padding import (ZeroPad1d, ZeroPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d,
                      ReplicationPad1d, ReplicationPad2d, CircularPad1d, CircularPad2d, ZeroPad3d, ConstantPad3d,
                      ReflectionPad3d, ReplicationPad3d, CircularPad3d)
from .fold import Unfold, Fold
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell
from .attention import MultiheadAttention
from ._fractional import FractionalMaxPool2d, FractionalMaxPool3d
from ._linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions
from ._ctc import CTCLoss
from ._adaptive_softmax import AdaptiveLogSoftmaxWithLoss
from .transformer import (TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder,
                          Transformer)
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss,
                   KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, SoftMarginLoss,
                   HingeEmbeddingLoss, GaussianNLLLoss, PoissonNLLLoss, MultiMarginLoss, MultiLabelMarginLoss,
                   MultiLabelSoftMarginLoss, TripletMarginWithDistanceLoss)
from .lazy import (LazyModuleMixin, LazyLinear, LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d,
                   LazyConvTranspose2d, LazyConvTranspose3d, LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d,
                   LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d)
# torch's submodules are attributes too: torchvision's references test isinstance(m, nn.modules.batchnorm._BatchNorm)
from . import batchnorm, pixelshuffle, utils  # noqa: E402,F401

__all__ = [name for name in dir() if name[0].isupper()]
