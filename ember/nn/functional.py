"""ember.nn.functional: the functional forms of layers, activations and losses, as torch.nn.functional."""
from .._ops.nn_math import *  # noqa: F401,F403  activations, softmax, one_hot, pad
