"""ONNX translations of the modules that ONNX has as one node or a small subgraph, by class.

``convert(g, module, out, *args, **kwargs)`` gets the module, its result and its call's arguments.
Such a module is traced as one call: the ops inside it are not recorded.
"""
from __future__ import annotations

from .. import nn
from .._backend import xp
from ..nn.utils.rnn import PackedSequence
from .errors import UnsupportedOperatorError

MODULES: dict = {}  # module class -> convert(g, module, out, *args, **kwargs)


def module(*classes):
    """Register a converter for these module classes (not their subclasses: a subclass may change forward)."""
    def deco(fn):
        for c in classes:
            MODULES[c] = fn
        return fn
    return deco


def _unsupported(g, m, detail: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(type(m).__name__, g.opset, detail)


def _spatial(g, m, x, n: int) -> None:
    if x.dim() != n + 2:
        raise _unsupported(g, m, f"an input of {x.dim()} dims (only batched ({n + 2}-D) inputs export)")


def _ntuple(v, n: int) -> list:
    return [int(a) for a in v] if isinstance(v, (tuple, list)) else [int(v)] * n


def _ones(g, n: int, dtype) -> str:
    return g.constant(xp.ones(n, dtype=dtype.np))


def _zeros(g, n: int, dtype) -> str:
    return g.constant(xp.zeros(n, dtype=dtype.np))


# ----------------------------------------------------------------------------- convolution
@module(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(g, m, out, x) -> None:
    n = len(m.kernel_size)
    _spatial(g, m, x, n)
    if m.padding_mode != "zeros":
        raise _unsupported(g, m, f"padding_mode={m.padding_mode!r}")
    if m.padding == "same":  # torch puts the odd one of the padding at the end
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    else:
        pads = [0] * 2 * n if m.padding == "valid" else list(m.padding) * 2
    inputs = [g.value(x), g.value(m.weight)] + ([] if m.bias is None else [g.value(m.bias)])
    g.bind(out, g.node("Conv", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
                       dilations=list(m.dilation), group=m.groups))


@module(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_transpose(g, m, out, x, output_size=None) -> None:
    n = len(m.kernel_size)
    _spatial(g, m, x, n)
    # the output padding that gives the size forward gave (it may have come from output_size)
    extra = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in
             zip(out.shape[2:], x.shape[2:], m.stride, m.padding, m.dilation, m.kernel_size)]
    inputs = [g.value(x), g.value(m.weight)] + ([] if m.bias is None else [g.value(m.bias)])
    g.bind(out, g.node("ConvTranspose", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                       pads=list(m.padding) * 2, dilations=list(m.dilation), group=m.groups, output_padding=extra))


# ----------------------------------------------------------------------------- pooling
@module(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def _max_pool(g, m, out, x) -> None:
    n = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(m)]
    _spatial(g, m, x, n)
    if m.return_indices:
        raise _unsupported(g, m, "return_indices=True")
    g.bind(out, g.node("MaxPool", [g.value(x)], kernel_shape=_ntuple(m.kernel_size, n),
                       strides=_ntuple(m.stride, n), pads=_ntuple(m.padding, n) * 2,
                       dilations=_ntuple(m.dilation, n), ceil_mode=int(m.ceil_mode)))


@module(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def _avg_pool(g, m, out, x) -> None:
    n = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(m)]
    _spatial(g, m, x, n)
    if getattr(m, "divisor_override", None):
        raise _unsupported(g, m, "divisor_override")
    if m.ceil_mode:  # torch drops a last window that would start in the padding; ONNX keeps it
        raise _unsupported(g, m, "ceil_mode=True")
    g.bind(out, g.node("AveragePool", [g.value(x)], kernel_shape=_ntuple(m.kernel_size, n),
                       strides=_ntuple(m.stride, n), pads=_ntuple(m.padding, n) * 2,
                       count_include_pad=int(m.count_include_pad)))


@module(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def _adaptive_pool(g, m, out, x) -> None:
    kind = "Average" if "Avg" in type(m).__name__ else "Max"
    _spatial(g, m, x, 1 if type(m).__name__.endswith("1d") else 2)
    if getattr(m, "return_indices", False):
        raise _unsupported(g, m, "return_indices=True")
    sizes, outs = x.shape[2:], out.shape[2:]
    if all(o == 1 for o in outs):
        g.bind(out, g.node(f"Global{kind}Pool", [g.value(x)]))
    elif all(s % o == 0 for s, o in zip(sizes, outs)):  # then the windows are equal and do not overlap
        kernel = [s // o for s, o in zip(sizes, outs)]
        g.bind(out, g.node(f"{kind}Pool", [g.value(x)], kernel_shape=kernel, strides=kernel))
    else:
        raise _unsupported(g, m, f"input size {list(sizes)} not a multiple of output size {list(outs)}")


# ----------------------------------------------------------------------------- normalization
@module(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def _batch_norm(g, m, out, x) -> None:
    if m.training or m.running_mean is None:
        raise _unsupported(g, m, "batch statistics (training mode or track_running_stats=False)")
    c = m.num_features
    scale = g.value(m.weight) if m.weight is not None else _ones(g, c, x.dtype)
    bias = g.value(m.bias) if m.bias is not None else _zeros(g, c, x.dtype)
    g.bind(out, g.node("BatchNormalization", [g.value(x), scale, bias, g.value(m.running_mean),
                                              g.value(m.running_var)], epsilon=float(m.eps)))


@module(nn.LayerNorm)
def _layer_norm(g, m, out, x) -> None:
    scale = g.value(m.weight) if m.weight is not None else g.constant(xp.ones(m.normalized_shape, x.dtype.np))
    bias = g.value(m.bias) if m.bias is not None else g.constant(xp.zeros(m.normalized_shape, x.dtype.np))
    g.bind(out, g.node("LayerNormalization", [g.value(x), scale, bias], axis=-len(m.normalized_shape),
                       epsilon=float(m.eps)))


@module(nn.GroupNorm)
def _group_norm(g, m, out, x) -> None:
    """Each group standardized as one instance of InstanceNormalization on (N, groups, rest), then the
    per-channel affine map."""
    groups = m.num_groups
    grouped = g.node("Reshape", [g.value(x), g.ints([0, groups, -1])])
    normed = g.node("InstanceNormalization", [grouped, _ones(g, groups, x.dtype), _zeros(g, groups, x.dtype)],
                    epsilon=float(m.eps))
    y = g.node("Reshape", [normed, g.node("Shape", [g.value(x)])])
    per_channel = [m.num_channels] + [1] * (x.dim() - 2)
    if m.weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(m.weight), g.ints(per_channel)])])
    if m.bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(m.bias), g.ints(per_channel)])])
    g.bind(out, y)


@module(nn.PReLU)
def _prelu(g, m, out, x) -> None:
    # one slope per channel (dim 1), or one for all: ONNX broadcasts the slope against the input's trailing dims
    shape = [m.num_parameters] + [1] * (x.dim() - 2) if m.num_parameters > 1 else [1]
    g.bind(out, g.node("PRelu", [g.value(x), g.node("Reshape", [g.value(m.weight), g.ints(shape)])]))


@module(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def _upsample(g, m, out, x) -> None:
    """Resize with the scales that give forward's output size, sampled where torch samples."""
    modes = {"nearest": ("nearest", "asymmetric"), "linear": ("linear", None), "bilinear": ("linear", None),
             "trilinear": ("linear", None)}
    if m.mode not in modes:
        raise _unsupported(g, m, f"mode={m.mode!r}")
    mode, where = modes[m.mode]
    where = where or ("align_corners" if m.align_corners else "pytorch_half_pixel")
    n = x.dim() - 2
    if m.scale_factor is not None and not m.recompute_scale_factor:  # torch samples at 1 / scale_factor steps
        factors = m.scale_factor if isinstance(m.scale_factor, (tuple, list)) else [m.scale_factor] * n
        target = ["", g.constant(xp.asarray([1.0, 1.0, *factors], dtype=xp.float32))]
    else:  # the output size given: batch and channels as they come
        target = ["", "", g.node("Concat", [g.node("Shape", [g.value(x)], start=0, end=2), g.ints(out.shape[2:])],
                                 axis=0)]
    g.bind(out, g.node("Resize", [g.value(x), *target], mode=mode, coordinate_transformation_mode=where,
                       nearest_mode="floor" if mode == "nearest" else None))


# ----------------------------------------------------------------------------- embedding
@module(nn.Embedding)
def _embedding(g, m, out, indices) -> None:
    if m.max_norm is not None:
        raise _unsupported(g, m, "max_norm (it renormalizes the weight in place)")
    g.bind(out, g.node("Gather", [g.value(m.weight), g.value(indices)], axis=0))


# ----------------------------------------------------------------------------- recurrent layers
# where ONNX's gates are in torch's packed weights: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATES = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}


@module(nn.RNN, nn.LSTM, nn.GRU)
def _rnn(g, m, out, x, hx=None) -> None:
    """One ONNX RNN/GRU/LSTM node per layer, both directions in it; torch's (seq, batch, dirs * hidden)
    output and (layers * dirs, batch, hidden) final states are ONNX's Y and Y_h transposed and stacked."""
    if isinstance(x, PackedSequence) or x.dim() != 3 or m.proj_size:
        raise _unsupported(g, m, "packed sequences, unbatched input or proj_size")
    lstm, dirs, order = m.mode == "LSTM", 2 if m.bidirectional else 1, _GATES[m.mode]
    states = [] if hx is None else list(hx) if lstm else [hx]
    attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if m.bidirectional else "forward"}
    if m.mode == "GRU":
        attrs["linear_before_reset"] = 1  # torch applies the reset gate after the hidden product
    elif not lstm:
        attrs["activations"] = ["Relu" if m.mode == "RNN_RELU" else "Tanh"] * dirs
    y = g.value(x)
    if m.batch_first:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    finals = [[] for _ in range(2 if lstm else 1)]
    for layer in range(m.num_layers):
        names = [f"l{layer}{s}" for s in ("", "_reverse")[:dirs]]
        w = [_gates(getattr(m, f"weight_ih_{n}")._data, order) for n in names]
        r = [_gates(getattr(m, f"weight_hh_{n}")._data, order) for n in names]
        inputs = [y, g.constant(xp.stack(w)), g.constant(xp.stack(r))]
        if m.bias:
            inputs.append(g.constant(xp.stack([xp.concatenate([_gates(getattr(m, f"bias_ih_{n}")._data, order),
                                                               _gates(getattr(m, f"bias_hh_{n}")._data, order)])
                                               for n in names])))
        else:
            inputs.append("")
        inputs.append("")  # sequence_lens: every sequence is full length
        inputs += [g.node("Slice", [g.value(s), g.ints([layer * dirs]), g.ints([(layer + 1) * dirs]), g.ints([0])])
                   for s in states]
        outs = g.node(m.mode if lstm or m.mode == "GRU" else "RNN", inputs, outputs=3 if lstm else 2, **attrs)
        # Y is (seq, dirs, batch, hidden): to (seq, batch, dirs * hidden)
        y = g.node("Reshape", [g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
        for acc, final in zip(finals, outs[1:]):
            acc.append(final)
    if m.batch_first:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    output, state = out
    g.bind(output, y)
    for t, acc in zip(state if lstm else [state], finals):
        g.bind(t, acc[0] if len(acc) == 1 else g.node("Concat", acc, axis=0))


def _gates(w, order):
    """A packed weight or bias with its gate blocks put in ONNX's order."""
    blocks = xp.split(w, len(order))
    return xp.concatenate([blocks[i] for i in order])
