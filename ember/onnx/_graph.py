"""The ONNX graph under construction: value names, nodes, initializers, and which sizes vary.

A tensor computed from the model's inputs is a *live* value, known by the name of the node output
that holds it. Any other tensor an op reads (a parameter, a buffer, a tensor made inside forward,
the result of an op on those alone) is an initializer: that is the constant folding. Each tensor
has a twin from a second run of the model on other inputs (other values, and other sizes on the
dynamic axes): the sizes that differ are the ones that vary, and a constant that differs was
computed from the inputs by something the exporter could not see.
"""
from __future__ import annotations

import itertools

from .._backend import xp
from .._tensor import Tensor
from .errors import OnnxExporterError

INT_MAX = 2 ** 63 - 1  # Slice's "to the end"


class Graph:
    """What converters build with: ``value(t)`` names an input, ``node(...)`` adds a node, ``bind(t, name)``
    says which value holds an op's result."""

    def __init__(self, opset: int, params: dict, twins: dict, export_params: bool) -> None:
        from onnx import helper, numpy_helper
        self._helper, self._numpy_helper = helper, numpy_helper
        self.opset = opset
        self.params = params            # id(parameter or buffer) -> its state_dict name
        self.twins = twins              # id(tensor or array argument) -> the same one in the second run
        self.export_params = export_params
        self.live = {}                  # id(tensor) -> (value name, version counter when it got that value)
        self.fixed = {}                 # id(tensor) -> initializer name
        self.nodes, self.initializers, self.param_inputs = [], [], []
        self.versions = {}              # version counters of the arguments of the event being converted
        self._ints = {}
        self._count = itertools.count()
        self.current_op = ""            # the class name of the op being converted
        self.inputs = []                # (tensor, name) of the graph's inputs

    # -- values
    def is_live(self, t) -> bool:
        return isinstance(t, Tensor) and id(t) in self.live

    def value(self, t: Tensor) -> str:
        """The name of the value that holds ``t``: a live value, else an initializer made from it."""
        if id(t) in self.live:
            name, version = self.live[id(t)]
            if self.versions.get(id(t), version) != version:
                raise OnnxExporterError(f"a tensor of shape {list(t.shape)} computed from the inputs was changed in "
                                        "place by an operation the exporter cannot see (an assignment into a slice "
                                        "or .data under no_grad?); write it with out-of-place ops")
            return name
        if id(t) not in self.fixed:
            twin = self.twins.get(id(t))
            if twin is not None and twin.shape != t.shape:
                raise OnnxExporterError(f"a tensor of shape {list(t.shape)} made inside forward changes shape with the "
                                        "dynamic axes; make it from the inputs with ops (e.g. zeros_like), or export "
                                        "without dynamic_axes")
            if twin is not None and not xp.array_equal(twin._data, t._data, equal_nan=True):
                raise OnnxExporterError(f"a tensor of shape {list(t.shape)} depends on the input values through an "
                                        "operation the exporter cannot see (a comparison, .item(), .numpy(), random "
                                        "numbers?); it cannot be stored as a constant")
            self.fixed[id(t)] = self.constant(t._data, self.params.get(id(t)))
        return self.fixed[id(t)]

    def array(self, a) -> str:
        """An initializer for an array that an op takes (an index, a mask): it must not depend on the inputs."""
        twin = self.twins.get(id(a))
        if twin is not None and (twin.shape != a.shape or not xp.array_equal(twin, a)):
            raise OnnxExporterError(f"an index or mask array of shape {list(a.shape)} depends on the inputs (a mask "
                                    "given as an input?); ember.onnx exports index arrays and masks as constants")
        return self.constant(a)

    def bind(self, t: Tensor, name: str, version: int | None = None) -> None:
        """``t`` is held by the value ``name`` from now on, at its version counter in the event being converted
        (an argument written in place: the version after the write)."""
        self.live[id(t)] = (name, self.versions.get(id(t), 0) if version is None else version)

    def constant(self, array, name: str | None = None) -> str:
        """An initializer holding ``array`` (a parameter keeps its name; without export_params it is an input)."""
        array = xp.ascontiguousarray(array)
        tensor = self._numpy_helper.from_array(array, name or f"onnx::Constant_{next(self._count)}")
        if name is not None and not self.export_params:
            self.param_inputs.append(self._helper.make_tensor_value_info(tensor.name, tensor.data_type, array.shape))
        else:
            self.initializers.append(tensor)
        return tensor.name

    def ints(self, values) -> str:
        """An int64 vector initializer (shapes, axes, pads), shared by every node that needs the same one."""
        key = tuple(int(v) for v in values)
        if key not in self._ints:
            self._ints[key] = self.constant(xp.asarray(key, dtype=xp.int64))
        return self._ints[key]

    def scalar(self, value, dtype) -> str:
        """A 0-d initializer of ``dtype`` (an ember dtype)."""
        return self.constant(xp.asarray(value, dtype=dtype.np))

    def operand(self, x, dtype) -> str:
        """An input of an elementwise node computing in ``dtype``: a number becomes a constant, a tensor of
        another dtype is cast (torch's promotion made the result's dtype)."""
        if not isinstance(x, Tensor):
            return self.scalar(x, dtype)
        name = self.value(x)
        return name if x.dtype == dtype else self.node("Cast", [name], to=onnx_type(dtype))

    # -- nodes
    def node(self, op_type: str, inputs, outputs: int = 1, **attrs):
        """Add a node; returns the name of its output (a list of names when ``outputs`` > 1)."""
        n = next(self._count)
        names = [f"/{op_type}_{n}_output_{k}" for k in range(outputs)]
        self.nodes.append(self._helper.make_node(op_type, list(inputs), names, name=f"/{op_type}_{n}",
                                                 **{k: v for k, v in attrs.items() if v is not None}))
        return names[0] if outputs == 1 else names

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node: its axes are an input from opset 18 (ReduceSum from 13), an attribute before."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    # -- sizes that vary with the dynamic axes
    def dynamic(self, t: Tensor) -> tuple:
        """For each dim of ``t``: does its size change when the dynamic axes of the inputs do?"""
        return tuple(a != b for a, b in zip(t.shape, self.twins.get(id(t), t).shape))

    def size(self, t: Tensor, d: int) -> str | None:
        """A 1-element value holding dim ``d`` of ``t`` at run time, read off a graph input whose size varies
        the same way (as torch's tracer follows ``x.size(0)``), or None."""
        want = (t.shape[d], self.twins.get(id(t), t).shape[d])
        for x, name in self.inputs:
            for k, sizes in enumerate(zip(x.shape, self.twins.get(id(x), x).shape)):
                if sizes == want and want[0] != want[1]:
                    return self.node("Shape", [name], start=k, end=k + 1)
        return None

    def shape(self, sizes: list) -> str:
        """An int64 vector value from ints and 1-element values (names)."""
        if all(isinstance(s, int) for s in sizes):
            return self.ints(sizes)
        return self.node("Concat", [s if isinstance(s, str) else self.ints([s]) for s in sizes], axis=0)

    def reshape(self, x: Tensor, out: Tensor) -> str:
        """A Reshape of ``x`` into ``out``'s shape whose varying sizes follow the input: a size that ``x`` has at
        the same place is copied (0), one other varying size is inferred (-1), others read off the inputs."""
        target, free = list(out.shape), []
        dx = self.dynamic(x)
        for d, varies in enumerate(self.dynamic(out)):
            if not varies:
                continue
            if d < x.dim() and dx[d] and x.shape[d] == out.shape[d] and \
                    self.twins[id(x)].shape[d] == self.twins[id(out)].shape[d]:
                target[d] = 0
            else:
                free.append(d)
        for d in free[1:]:
            target[d] = self.size(out, d)
            if target[d] is None:
                raise OnnxExporterError(f"reshape from {list(x.shape)} to {list(out.shape)}: more than one size "
                                        "changes with the dynamic axes in a way the exporter cannot follow")
        if free:
            target[free[0]] = -1
        return self.node("Reshape", [self.value(x), self.shape(target)])


def onnx_type(dtype) -> int:
    """The ONNX element type of an ember dtype."""
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(xp.dtype(dtype.np))
