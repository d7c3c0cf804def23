"""ember.nn.functional: the functional forms of layers, activations and losses, as torch.nn.functional."""
from .._ops.nn_math import *  # noqa: F401,F403  activations, softmax, one_hot, pad
from ._functional.conv import *  # noqa: F401,F403  conv1d/2d, conv_transpose1d/2d
from ._functional.pooling import *  # noqa: F401,F403  max/avg/adaptive pooling
from ._functional.volumetric import *  # noqa: F401,F403  conv3d, conv_transpose3d, 3-D pooling
from ._functional.basic import *  # noqa: F401,F403  linear, bilinear, dropout, embedding
from ._functional.loss import *  # noqa: F401,F403  losses
from ._functional.normalization import *  # noqa: F401,F403  batch/layer/group/rms norm
from ._functional.vision import *  # noqa: F401,F403  interpolate, pixel_shuffle
from ._functional.attention import *  # noqa: F401,F403  scaled_dot_product_attention, multi_head_attention_forward
from ._functional.activation import *  # noqa: F401,F403  glu, shrinks, prelu, rrelu, gumbel_softmax, relu_ ...
from ._functional.fold import *  # noqa: F401,F403  unfold, fold
from ._functional.distance import *  # noqa: F401,F403  pdist
from ._functional.fractional import *  # noqa: F401,F403  fractional_max_pool2d/3d
from ._functional.linear_cross_entropy import *  # noqa: F401,F403  linear_cross_entropy
from ._functional.ctc import *  # noqa: F401,F403  ctc_loss

from .attention import respecting_backends as _respecting_backends  # noqa: E402

# the kernels torch.nn.attention.sdpa_kernel allows: torch's error when none of them can run the call
scaled_dot_product_attention = _respecting_backends(scaled_dot_product_attention)

from .._ops.out import publish as _publish  # noqa: E402

# the functions torch's nn.functional gives out= (its C bindings; the Python-level ones take none)
_publish(globals(), ("linear", "gelu", "softplus", "logsigmoid", "hardshrink", "softshrink", "avg_pool2d", "avg_pool3d",
                     "normalize"))
