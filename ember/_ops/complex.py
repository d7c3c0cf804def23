"""Complex numbers: ``real``/``imag`` and ``view_as_real``/``view_as_complex`` (views), ``conj``, ``angle``,
``polar``, ``complex``, and ``cj``, the one helper through which backward formulas apply torch's convention.

torch's convention: the gradient of a real loss L with respect to a complex z = x + iy is dL/dx + i dL/dy
(so for L = |z|^2 it is 2z), which makes the backward of a holomorphic f send ``g`` to ``g * conj(f'(z))``.
"""
from __future__ import annotations

from .. import _complex32, _dtype
from .._backend import ndarray, xp
from .._tensor import Tensor
from ..autograd.function import Op
from .common import register, sum_to
from .conversion import _caster

_PyComplex = complex  # the builtin, before ``complex`` below names the op


def cj(x):
    """The conjugate of a complex tensor, array or number; anything real as it is."""
    if type(x) is ndarray:  # the commonest call: a backward formula on arrays
        return x.conj() if x.dtype.kind == "c" else x
    if isinstance(x, Tensor):
        return Conj.apply(x) if x._data.dtype.kind == "c" else x
    if isinstance(x, (ndarray, xp.generic, _PyComplex)):
        return x.conjugate() if xp.iscomplexobj(x) else x
    return x


def sgn(z: Tensor) -> Tensor:
    """``z / |z|`` (0 at 0) for a complex tensor, differentiable: the gradient of ``|z|``."""
    if z._data.dtype.names:  # complex32: through complex64, as torch's kernel
        return _complex32.unary("sgn", sgn, z)
    zero = Tensor._make(z._data == 0)
    return (z / z.abs().masked_fill(zero, 1)).masked_fill(zero, 0)


def _complex_only(x: Tensor, op: str, message: str | None = None) -> None:
    if not x.is_complex():
        raise RuntimeError(message or f"{op} is only supported for complex tensors")


class Conj(Op):
    array_backward = True
    forward = staticmethod(xp.conjugate)

    @staticmethod
    def backward(ctx, g):
        return cj(g)

    @staticmethod
    def jvp(inputs, out, t):
        return cj(t)


@register()
def conj(input: Tensor) -> Tensor:
    """The complex conjugate (``input`` itself when real); ``is_conj()`` is True on the result, as torch's
    lazy view, though ember computes the values at once."""
    if not input.is_complex():
        return input
    out = Conj.apply(input)
    if not input.is_conj():
        out._conj_bit = True
    return out


@register(inplace="conj_physical_")
def conj_physical(input: Tensor) -> Tensor:
    """The complex conjugate, computed (``input`` itself when real)."""
    return Conj.apply(input) if input.is_complex() else input


@register()
def is_conj(input: Tensor) -> bool:
    """Whether ``input`` came from ``conj()`` and was not resolved yet."""
    return getattr(input, "_conj_bit", False)


@register()
def resolve_conj(input: Tensor) -> Tensor:
    """A tensor with ``is_conj()`` False holding the same values (``input`` itself if it already is)."""
    return input.clone() if input.is_conj() else input


@register()
def is_neg(input: Tensor) -> bool:
    """Always False: ember never keeps a negation lazily."""
    return False


@register()
def resolve_neg(input: Tensor) -> Tensor:
    """``input`` itself (ember has no lazy negation to resolve)."""
    return input


class Real(Op):
    forward = staticmethod(lambda z: z["real"] if z.dtype.names else z.real)  # complex32: a field of its record

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dtype = inputs[0].dtype

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.dtype)


class Imag(Real):
    forward = staticmethod(lambda z: z["imag"] if z.dtype.names else z.imag)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.dtype) * 1j


@register(method=False)
def real(input: Tensor) -> Tensor:
    """The real parts, a view (``input`` itself when real)."""
    return Real.apply(input) if input.is_complex() else input


@register(method=False)
def imag(input: Tensor) -> Tensor:
    """The imaginary parts, a view."""
    _complex_only(input, "imag", "imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def _setter(get):
    def set_(self, value) -> None:
        get(self).copy_(value if isinstance(value, Tensor) else Tensor._make(xp.asarray(value)))
    return set_


Tensor.real = property(real, _setter(real), doc="The real parts, a view; assigning writes them.")
Tensor.imag = property(imag, _setter(imag), doc="The imaginary parts, a view; assigning writes them.")


class ViewAsReal(Op):
    forward = staticmethod(lambda z: z[..., None].view(xp.float16 if z.dtype.names else z.real.dtype))

    @staticmethod
    def backward(ctx, g):
        return view_as_complex(g.contiguous())


class ViewAsComplex(Op):
    forward = staticmethod(lambda x: x.view(_dtype.from_np(x.dtype).to_complex().np)[..., 0])

    @staticmethod
    def backward(ctx, g):
        return view_as_real(g)


@register(method=False)
def view_as_real(input: Tensor) -> Tensor:
    """A real view of a complex tensor, real and imaginary parts along a new last dim of size 2."""
    _complex_only(input, "view_as_real")
    if input.is_conj():
        raise RuntimeError("view_as_real doesn't work on unresolved conjugated tensors.  To resolve the conjugate "
                           "tensor so you can view it as real, use self.resolve_conj(); however, be warned that the "
                           "resulting tensor will NOT alias the original.")
    return ViewAsReal.apply(input)


@register(method=False)
def view_as_complex(input: Tensor) -> Tensor:
    """A complex view of a float tensor whose last dim (size 2, stride 1) holds real and imaginary parts."""
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a tensor of "
                           f"scalar type: {_type(input.dtype)}")
    if a.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if a.strides[-1] != a.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * a.itemsize) for s in a.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return ViewAsComplex.apply(input)


def _type(d) -> str:
    from .common import _type_name
    return _type_name(d)


class Complex(Op):
    @staticmethod
    def forward(re, im):
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape), _dtype.from_np(re.dtype).to_complex().np)
        out.real, out.imag = re, im
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.shapes = (inputs[0]._data.shape, inputs[1]._data.shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(real(g), ctx.shapes[0]), sum_to(imag(g), ctx.shapes[1])


def _same_float(a: Tensor, b: Tensor) -> None:
    if a._data.dtype.kind != "f" or b._data.dtype.kind != "f":
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got {_type(a.dtype)} and "
                           f"{_type(b.dtype)}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"Expected object of scalar type {_type(a.dtype)} but got scalar type {_type(b.dtype)} "
                           "for second argument")


@register(method=False)
def complex(real: Tensor, imag: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The complex tensor ``real + i imag`` (both float, of one dtype), broadcasting."""
    _same_float(real, imag)
    if out is not None and out._data.dtype != _dtype.from_np(real._data.dtype).to_complex().np:
        raise RuntimeError(f"Expected object of scalar type {_type(real.dtype.to_complex())} but got scalar type "
                           f"{_type(out.dtype)} for argument 'out'")
    result = Complex.apply(real, imag)
    return result if out is None else out.copy_(result)


@register(method=False)
def polar(abs: Tensor, angle: Tensor) -> Tensor:
    """The complex tensor with magnitudes ``abs`` and phases ``angle``."""
    _same_float(abs, angle)
    return complex(abs * angle.cos(), abs * angle.sin())


class Angle(Op):
    @staticmethod
    def forward(x):
        if x.dtype.kind == "c":
            return xp.angle(x)
        return xp.where(x < 0, xp.pi, xp.where(xp.isnan(x), x, 0)).astype(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        z, = ctx.saved_tensors
        if z._data.dtype.kind != "c":
            return g * 0
        zero = Tensor._make(z._data == 0)
        return (g * z / (z * cj(z)).real * 1j).masked_fill(zero, 0)


@register()
def angle(input: Tensor) -> Tensor:
    """The phase of each element, in radians (0 or pi for real numbers)."""
    if input._data.dtype.kind in "biu":
        input = input.to(_dtype.get_default_dtype())
    return Angle.apply(input)


Tensor.cfloat, Tensor.cdouble = _caster("cfloat", _dtype.complex64), _caster("cdouble", _dtype.complex128)
