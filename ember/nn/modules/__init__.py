"""The layers of ember.nn, as torch.nn.modules."""
from .module import Module
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Identity, Linear, Bilinear
from .activation import (ReLU, ReLU6, LeakyReLU, ELU, SELU, GELU, SiLU, Mish, Softplus, Tanh, Sigmoid, Hardtanh,
                         Softmax, LogSoftmax, Softmin)
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout
from .sparse import Embedding
from .flatten import Flatten, Unflatten
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss,
                   KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, SoftMarginLoss,
                   HingeEmbeddingLoss)

__all__ = [name for name in dir() if name[0].isupper()]
