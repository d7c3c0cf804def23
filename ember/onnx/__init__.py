"""ONNX export, as torch.onnx: ``ember.onnx.export(model, args, "model.onnx")``.

The model runs once on ``args`` (in eval mode, without autograd) while every op that ember runs, and
each call of a module that ONNX has as a whole (convolutions, pooling, normalization, embeddings,
recurrent layers), is recorded (``_trace.py``); each is then written as ONNX nodes (``_ops.py``,
``_modules.py``) into a graph (``_graph.py``). The model runs a second time on the inputs' values
shuffled and the ``dynamic_axes`` one longer: the sizes that change there are the ones the graph keeps
symbolic, and a constant that changes is an error. As with torch's tracing exporter, Python control
flow is frozen at the path the example inputs took.

Needs the ``onnx`` package (``pip install "ember[onnx]"``); ``onnxruntime`` runs the result.
"""
from __future__ import annotations

import contextlib
import enum
import inspect
import warnings

from .._backend import xp
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from . import errors
from ._graph import Graph, onnx_type
from ._modules import MODULES
from ._ops import OPS
from ._trace import INPLACE, arrays, record, tensors
from .errors import OnnxExporterError, UnsupportedOperatorError

__all__ = ["export", "is_in_onnx_export", "TrainingMode", "errors", "OnnxExporterError",
           "UnsupportedOperatorError"]

DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(17, 22)

# torch.onnx.export's options for its own exporters (dynamo, reports, verification): accepted, no effect here
_TORCH_ONLY = {"dynamo", "external_data", "report", "optimize", "verify", "profile", "dump_exported_program",
               "artifacts_dir", "keep_initializers_as_inputs", "operator_export_type", "custom_opsets",
               "export_modules_as_functions", "autograd_inlining", "fallback"}

_exporting = False


class TrainingMode(enum.IntEnum):
    """The mode the model is exported in, as torch.onnx.TrainingMode."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def is_in_onnx_export() -> bool:
    """True while ``export`` runs the model."""
    return _exporting


def export(model, args=(), f=None, *, kwargs: dict | None = None, verbose: bool | None = None,
           input_names=None, output_names=None, opset_version: int | None = None, dynamic_axes=None,
           export_params: bool = True, training: TrainingMode = TrainingMode.EVAL, do_constant_folding: bool = True,
           dynamic_shapes=None, custom_translation_table=None, **options) -> None:
    """Write ``model`` traced on ``args`` as an ONNX model to ``f`` (a path or a binary file object).

    Args:
        model: an ``nn.Module`` (or a function of tensors).
        args: the example positional inputs: a tensor or a tuple (a dict at its end holds keyword inputs).
        f: where the ``.onnx`` file goes.
        kwargs: example keyword inputs.
        input_names, output_names: names of the graph's inputs and outputs, in order (default: forward's
            parameter names; ``output`` or ``output_0``, ``output_1``, ...).
        opset_version: ONNX opset, 17 (default) to 21.
        dynamic_axes: ``{name: [dims]}`` or ``{name: {dim: "symbol"}}``: sizes that may differ at run time.
        export_params: store parameters in the file (else they become graph inputs).
        training: ``TrainingMode.EVAL`` (default) runs the model in eval mode, ``PRESERVE`` as it is.
        do_constant_folding: accepted; an op that reads only parameters and constants is always folded.

    torch's options for its own exporters (``dynamo``, ``report``, ``verify``, ...) are accepted and have no
    effect. An op or module with no ONNX translation raises ``UnsupportedOperatorError`` naming it.
    """
    unknown = set(options) - _TORCH_ONLY
    if f is None:
        raise ValueError("ember.onnx.export writes a file: pass f, a path or a binary file object")
    if unknown:
        raise TypeError(f"export() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    if dynamic_shapes is not None or custom_translation_table is not None:
        raise NotImplementedError("ember.onnx.export: dynamic_shapes and custom_translation_table belong to torch's "
                                  "dynamo exporter; use dynamic_axes")
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ember.onnx.export needs the onnx package: pip install \"ember[onnx]\"") from e
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"ember.onnx.export supports opset versions {SUPPORTED_OPSETS.start} to "
                         f"{SUPPORTED_OPSETS.stop - 1}, got {opset}")
    args, kwargs = _split_args(args, kwargs)
    input_names = _names(input_names, _default_input_names(model, args, kwargs), "input_names")
    dynamic_axes = {k: _symbols(k, v) for k, v in (dynamic_axes or {}).items()}

    with _export_mode(model, training):
        proto = _build(model, args, kwargs, opset, input_names, output_names, dynamic_axes, export_params)
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.printer.to_text(proto.graph))
    onnx.save_model(proto, f)


@contextlib.contextmanager
def _export_mode(model, training: TrainingMode):
    """The model in the mode ``training`` asks for, and is_in_onnx_export() True, until export is done."""
    global _exporting
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, Module) else []
    if modes and training != TrainingMode.PRESERVE:
        model.train(training == TrainingMode.TRAINING)
    _exporting = True
    try:
        with no_grad():
            yield
    finally:
        _exporting = False
        for m, was_training in modes:
            m.training = was_training


def _build(model, args, kwargs, opset, input_names, output_names, dynamic_axes, export_params):
    """Record the model's two runs and write the graph: an onnx ModelProto."""
    from onnx import helper
    inputs = tensors((args, kwargs))
    events, result = record(model, args, kwargs, lambda m: type(m) in MODULES)
    twins = _second_run(model, args, kwargs, inputs, input_names, dynamic_axes, events, result)
    outputs = tensors(result)
    default_out = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    output_names = _names(output_names, default_out, "output_names")
    for name in dynamic_axes:
        if name not in input_names and name not in output_names:
            warnings.warn(f"Provided key {name} for dynamic axes is not a valid input/output name")

    params = {}
    if isinstance(model, Module):
        params = {id(t): n for n, t in (*model.named_parameters(), *model.named_buffers())}
    g = Graph(opset, params, twins, export_params)
    for t, name in zip(inputs, input_names):
        g.bind(t, name, t._version)
        g.inputs.append((t, name))
    for ev in events:
        _convert(g, ev)
    g.versions = {}
    for t, name in zip(outputs, output_names):
        g.nodes.append(helper.make_node("Identity", [g.value(t)], [name], name=f"/output/{name}"))

    symbols = _io_symbols(inputs, input_names, outputs, output_names, dynamic_axes, twins)
    proto = helper.make_model(
        helper.make_graph(g.nodes, "main_graph",
                          [_value_info(t, n, symbols) for t, n in zip(inputs, input_names)] + g.param_inputs,
                          [_value_info(t, n, symbols) for t, n in zip(outputs, output_names)], g.initializers),
        opset_imports=[helper.make_opsetid("", opset)], producer_name="ember")
    proto.ir_version = min(proto.ir_version, 10)  # what current onnxruntime releases read
    return proto


def _convert(g: Graph, ev) -> None:
    """Write one recorded call into the graph."""
    g.versions = ev.versions
    if ev.fn is INPLACE:  # args[0] now holds the result of the op just before
        target = ev.args[0]
        if g.is_live(ev.out):
            g.bind(target, g.value(ev.out))
        else:
            g.live.pop(id(target), None)
            g.fixed[id(target)] = g.value(ev.out)
        return
    if not any(g.is_live(t) for t in tensors((ev.args, ev.kwargs))):
        return  # reads only parameters and constants: its result becomes a constant when something uses it
    if isinstance(ev.fn, Module):
        MODULES[type(ev.fn)](g, ev.fn, ev.out, *ev.args, **ev.kwargs)
        return
    name = ev.fn.__name__
    convert = OPS.get(name) if ev.fn.__module__.startswith("ember.") else None
    if convert is None or ev.kwargs:
        raise UnsupportedOperatorError(name, g.opset)
    g.current_op = name
    convert(g, ev.out, *ev.args)


def _split_args(args, kwargs) -> tuple:
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    if kwargs is None and args and isinstance(args[-1], dict):  # torch's convention: a last dict is keywords
        args, kwargs = args[:-1], args[-1]
    return args, dict(kwargs or {})


def _default_input_names(model, args, kwargs) -> list:
    try:
        params = list(inspect.signature(model.forward if isinstance(model, Module) else model).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"input_{i}"
        ts = tensors(a)
        names += [base] if isinstance(a, Tensor) else [f"{base}_{j}" for j in range(len(ts))]
    for k, v in kwargs.items():
        ts = tensors(v)
        names += [k] if isinstance(v, Tensor) else [f"{k}_{j}" for j in range(len(ts))]
    return names


def _names(given, default: list, what: str) -> list:
    given = list(given or [])
    if len(given) > len(default):
        raise ValueError(f"{what}: {len(given)} names for {len(default)} values")
    return given + default[len(given):]


def _symbols(name: str, axes) -> dict:
    """``{dim: symbol}`` from dynamic_axes' list or dict form (a list gets torch's generated names)."""
    if isinstance(axes, dict):
        return {int(d): str(s) for d, s in axes.items()}
    return {int(d): f"{name}_dynamic_axes_{k + 1}" for k, d in enumerate(axes)}


def _second_run(model, args, kwargs, inputs, input_names, dynamic_axes, events, result) -> dict:
    """Run the model again on other inputs: each input's values shuffled, its dynamic axes one longer.
    Returns ``{id(tensor or array argument in the first run): the same one in the second}``, or {} (with a
    warning) if the model took another path and there are no dynamic axes that need the comparison."""
    grow = {id(t): dynamic_axes.get(n, {}) for t, n in zip(inputs, input_names)}
    shuffle = xp.random.default_rng(0)

    def other(obj):
        if isinstance(obj, Tensor) and id(obj) in grow:
            a = shuffle.permutation(obj._data.reshape(-1)).reshape(obj.shape)
            for d in sorted(grow[id(obj)]):
                if d >= a.ndim or a.shape[d] == 0:
                    raise OnnxExporterError(f"dynamic axis {d} of an input of shape {list(a.shape)}: no such axis "
                                            "or it is empty")
                a = xp.take(a, xp.arange(a.shape[d] + 1) % a.shape[d], axis=d)
            return Tensor._make(a)
        if isinstance(obj, (tuple, list)):
            return type(obj)(other(o) for o in obj)
        if isinstance(obj, dict):
            return {k: other(v) for k, v in obj.items()}
        return obj

    dynamic = any(grow.values())
    alt_args, alt_kwargs = other(args), other(kwargs)
    try:
        alt_events, alt_result = record(model, alt_args, alt_kwargs, lambda m: type(m) in MODULES)
    except Exception as e:
        if dynamic:
            raise OnnxExporterError(f"the model does not run with other sizes on its dynamic axes: {e}") from e
        raise
    pairs = [(tensors((args, kwargs)), tensors((alt_args, alt_kwargs))), (tensors(result), tensors(alt_result))]
    pairs += [(tensors((e.args, e.kwargs, e.out)), tensors((a.args, a.kwargs, a.out))) for e, a in
              zip(events, alt_events)]
    pairs += [(arrays(e.args), arrays(a.args)) for e, a in zip(events, alt_events)]
    same_path = len(events) == len(alt_events) and all(e.fn is a.fn for e, a in zip(events, alt_events)) and \
        all(len(main) == len(alt) for main, alt in pairs)
    if not same_path:
        if dynamic:
            raise OnnxExporterError("the model ran other ops when its dynamic axes changed size; such control flow "
                                    "cannot be exported")
        warnings.warn("ember.onnx.export: the model ran other ops on other input values; the graph follows the "
                      "path the example inputs took")
        return {}
    return {id(t): a for main, alt in pairs for t, a in zip(main, alt)}


def _io_symbols(inputs, input_names, outputs, output_names, dynamic_axes, twins) -> dict:
    """``{(value name, dim): symbol}`` for the graph's inputs and outputs. An output size that varies with
    the inputs' takes the symbol of an input size that varies the same way."""
    symbols, by_sizes = {}, {}
    for t, name in zip(inputs, input_names):
        for d, s in dynamic_axes.get(name, {}).items():
            symbols[(name, d)] = s
            by_sizes.setdefault((t.shape[d], twins.get(id(t), t).shape[d]), s)
    for t, name in zip(outputs, output_names):
        for d, (a, b) in enumerate(zip(t.shape, twins.get(id(t), t).shape)):
            given = dynamic_axes.get(name, {}).get(d)
            if given is not None or a != b:
                symbols[(name, d)] = given or by_sizes.get((a, b), f"{name}_dim_{d}")
    return symbols


def _value_info(t: Tensor, name: str, symbols: dict):
    from onnx import helper
    dims = [symbols.get((name, d), s) for d, s in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, onnx_type(t.dtype), dims)
