"""Elementwise and comparison ops beyond the spec table: dtypes, in-place forms, ties, errors."""
import math

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def both(fn):
    """Run ``fn(lib)`` on ember and torch and compare results (values and dtype)."""
    e, t = fn(ember), fn(torch)
    assert_close(e, t, what="ember vs torch")


I64 = lambda lib: lib.tensor([3, -4, 5])  # noqa: E731
I32 = lambda lib: lib.tensor([3, -4, 5], dtype=lib.int32)  # noqa: E731
U8 = lambda lib: lib.tensor([3, 4, 5], dtype=lib.uint8)  # noqa: E731
B = lambda lib: lib.tensor([True, False, True])  # noqa: E731
F32 = lambda lib: lib.tensor([1.5, -2.25, 3.0])  # noqa: E731
F64 = lambda lib: lib.tensor([1.5, -2.25, 3.0], dtype=lib.float64)  # noqa: E731

PROMOTION = {
    "int+float": lambda lib: I64(lib) + 1.5, "int+int": lambda lib: I64(lib) + 2, "int32+int": lambda lib: I32(lib) * 3,
    "int32+int64": lambda lib: I32(lib) + I64(lib), "uint8+int": lambda lib: U8(lib) + 1,
    "bool+bool": lambda lib: B(lib) + True, "bool*int": lambda lib: B(lib) * 2, "bool*float": lambda lib: B(lib) * 2.5,
    "int/int": lambda lib: I64(lib) / 2, "int//int": lambda lib: I64(lib) // 2, "int%int": lambda lib: I64(lib) % 3,
    "int//float": lambda lib: I64(lib) // 2.0, "rfloordiv": lambda lib: 7 // I64(lib), "rmod": lambda lib: 7 % I64(lib),
    "int**int": lambda lib: I64(lib) ** 2, "int32**int": lambda lib: I32(lib) ** 3, "int**float": lambda lib: I64(lib) ** 0.5,
    "int**inttensor": lambda lib: I64(lib).abs() ** lib.tensor([0, 1, 2]), "rpow int": lambda lib: 2 ** I64(lib).abs(),
    "rpow float": lambda lib: 2.0 ** I64(lib), "f32+0dim f64": lambda lib: F32(lib) + lib.tensor(1.0, dtype=lib.float64),
    "f32+f64": lambda lib: F32(lib) + F64(lib), "int+0dim float": lambda lib: I64(lib) + lib.tensor(2.5),
    "sqrt int": lambda lib: lib.sqrt(I64(lib).abs()), "exp int": lambda lib: lib.exp(I32(lib)),
    "sigmoid int": lambda lib: lib.sigmoid(I64(lib)), "abs int8": lambda lib: lib.abs(I64(lib).to(lib.int8)),
    "sign int": lambda lib: lib.sign(I64(lib)), "floor int": lambda lib: lib.floor(I64(lib)),
    "round int": lambda lib: lib.round(I32(lib)), "relu int": lambda lib: lib.relu(I64(lib)),
    "square int": lambda lib: lib.square(I64(lib)), "clamp int,float": lambda lib: lib.clamp(I64(lib), min=1.5),
    "clamp int,int": lambda lib: lib.clamp(I64(lib), -1, 4), "clamp int,0dim": lambda lib: lib.clamp(I64(lib), lib.tensor(2.)),
    "where float,int": lambda lib: lib.where(B(lib), F32(lib), 0), "where int,int": lambda lib: lib.where(B(lib), 1, 0),
    "where scalars": lambda lib: lib.where(B(lib), 1.0, 0), "where int32,float": lambda lib: lib.where(B(lib), I32(lib), 2.5),
    "maximum int,float": lambda lib: lib.maximum(I64(lib), F32(lib)), "atan2 int": lambda lib: lib.atan2(I64(lib), I32(lib)),
    "div trunc int": lambda lib: lib.div(I64(lib), 2, rounding_mode="trunc"),
    "div floor int": lambda lib: lib.div(I64(lib), -2, rounding_mode="floor"),
    "div trunc float": lambda lib: lib.div(F32(lib), 2, rounding_mode="trunc"),
    "fmod int": lambda lib: lib.fmod(I64(lib), 3), "remainder neg": lambda lib: lib.remainder(I64(lib), -3),
    "eq int,float": lambda lib: I64(lib) == 3.0, "lt uint8,float": lambda lib: U8(lib) < 3.5,
    "and bool,int": lambda lib: B(lib) & 1, "or int8,bool": lambda lib: I64(lib).to(lib.int8) | True,
    "xor ints": lambda lib: I64(lib) ^ I32(lib), "invert int": lambda lib: ~I64(lib), "invert bool": lambda lib: ~B(lib),
    "nan_to_num int": lambda lib: lib.nan_to_num(I64(lib)),
    "nan_to_num f64": lambda lib: lib.nan_to_num(lib.tensor([math.nan, math.inf, -math.inf], dtype=lib.float64)),
    "round half even": lambda lib: lib.round(lib.tensor([0.5, 1.5, 2.5, -0.5, -2.5])),
    "isnan int": lambda lib: lib.isnan(I64(lib)), "signbit": lambda lib: lib.signbit(lib.tensor([-0.0, 0.0, -1.0])),
}


@pytest.mark.parametrize("name", list(PROMOTION))
def test_result_dtype_and_values(name):
    both(PROMOTION[name])


INPLACE = {
    "add_": lambda x: x.add_(2.5), "sub_": lambda x: x.sub_(1, alpha=2), "mul_": lambda x: x.mul_(-3),
    "div_": lambda x: x.div_(4), "pow_": lambda x: x.abs_().pow_(1.5), "sqrt_": lambda x: x.abs_().sqrt_(),
    "clamp_": lambda x: x.clamp_(-1, 1), "clamp_min_": lambda x: x.clamp_min_(0.5), "relu_": lambda x: x.relu_(),
    "sigmoid_": lambda x: x.sigmoid_(), "floor_divide_": lambda x: x.floor_divide_(0.7),
    "remainder_": lambda x: x.remainder_(0.7), "exp_": lambda x: x.exp_(), "round_": lambda x: x.round_(decimals=1),
    "lerp_": lambda x: x.lerp_(x * 0 + 1, 0.25), "eq_": lambda x: x.eq_(3.0), "where (out of place)": lambda x: x.where(x > 0, -x),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_matches_torch_and_returns_self(name):
    e, t = ember.tensor([1.5, -2.25, 3.0, 0.3]), torch.tensor([1.5, -2.25, 3.0, 0.3])
    re, rt = INPLACE[name](e), INPLACE[name](t)
    assert_close(re, rt, what=name)
    assert (re is e) == (rt is t)


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__", "__ifloordiv__",
                                "__imod__"])
def test_augmented_assignment_is_inplace(op):
    e, t = ember.tensor([1.5, 2.0, 3.0]), torch.tensor([1.5, 2.0, 3.0])
    re, rt = getattr(e, op)(2), getattr(t, op)(2)
    assert re is e and rt is t
    assert_close(e, t)
    x = ember.tensor([1, 2, 3])
    x **= 2
    x |= 8
    assert x.tolist() == [9, 12, 9]


@pytest.mark.parametrize("call", [lambda x: x.add_(1.5), lambda x: x.mul_(0.5), lambda x: x.div_(2), lambda x: x.sqrt_(),
                                  lambda x: x.sigmoid_()])
def test_inplace_int_with_float_result_raises_like_torch(call):
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        call(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        call(torch.tensor([1, 2]))


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.clamp_(0, 1)


def test_inplace_in_graph_gives_torch_gradient():
    def run(lib):
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        y.add_(1)
        y.mul_(3)
        y.relu_()
        (y * 3).sum().backward()
        return x.grad
    both(run)


def _grads(lib, fn, *vals):
    xs = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in vals]
    fn(lib, *xs).backward(lib.ones(xs[0].shape if len(xs) == 1 else lib.broadcast_shapes(*[x.shape for x in xs]),
                                   dtype=lib.float64))
    return [x.grad for x in xs]


KINKS = {
    "maximum ties": (lambda lib, a, b: lib.maximum(a, b), [1.0, 2.0, 3.0, -1.0], [2.0, 2.0, 1.0, -1.0]),
    "minimum ties": (lambda lib, a, b: lib.minimum(a, b), [1.0, 2.0, 3.0, -1.0], [2.0, 2.0, 1.0, -1.0]),
    "fmax nan/ties": (lambda lib, a, b: lib.fmax(a, b), [1.0, 2.0, math.nan, 0.0], [2.0, 2.0, 1.0, math.nan]),
    "fmin nan/ties": (lambda lib, a, b: lib.fmin(a, b), [1.0, 2.0, math.nan, 0.0], [2.0, 2.0, 1.0, math.nan]),
    "clamp tensors": (lambda lib, x, lo, hi: lib.clamp(x, lo, hi), [0., 1., 2., 3., 4., 2.], [1., 1., 3., 3., 0., 2.],
                      [2., 2., 2., 3., 5., 2.]),
    "clamp min tensor": (lambda lib, x, lo: lib.clamp(x, min=lo), [0., 1., 2.], [1., 1., 1.]),
    "clamp max tensor": (lambda lib, x, hi: lib.clamp(x, max=hi), [0., 1., 2.], [1., 1., 1.]),
    "clamp scalar boundary": (lambda lib, x: lib.clamp(x, -1.0, 1.0), [-1.0, 1.0, 2.0, 0.0]),
    "abs at 0": (lambda lib, x: lib.abs(x), [0.0, -0.0, -2.0, 3.0]),
    "relu at 0": (lambda lib, x: lib.relu(x), [0.0, -1.0, 2.0]),
    "pow zero base": (lambda lib, a, b: a ** b, [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]),
    "pow scalar 0": (lambda lib, x: x ** 0, [0.0, 1.5]),
    "rpow zero base": (lambda lib, x: 0.0 ** x, [0.0, 1.5]),
    "where broadcast": (lambda lib, a, b: lib.where(a > 0, a, b), [[1.0, -1.0]], [[2.0], [3.0]]),
    "sign/floor zero grad": (lambda lib, x: lib.sign(x) + lib.floor(x) + lib.round(x, decimals=1), [0.3, -1.7]),
    "nan_to_num": (lambda lib, x: lib.nan_to_num(x), [math.nan, math.inf, 1.0]),
    "logit eps boundary": (lambda lib, x: lib.logit(x, eps=0.25), [0.25, 0.1, 0.5, 0.9]),
    "remainder": (lambda lib, a, b: lib.remainder(a, b), [5.5, -3.2], [2.0, 2.0]),
    "fmod": (lambda lib, a, b: lib.fmod(a, b), [5.5, -3.2], [2.0, 2.0]),
    "lerp tensor weight": (lambda lib, a, b, w: lib.lerp(a, b, w), [1.0, 2.0], [3.0, -1.0], [0.25, 0.75]),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_gradient_at_kinks_and_ties_matches_torch(name):
    fn, *vals = KINKS[name]
    for e, t in zip(_grads(ember, fn, *vals), _grads(torch, fn, *vals)):
        assert_close(e, t, what=name)


ERRORS = {
    "int floor_divide by 0": (RuntimeError, lambda lib: lib.tensor([1, 2]) // 0),
    "int remainder by 0": (RuntimeError, lambda lib: lib.tensor([1, 2]) % lib.tensor([1, 0])),
    "int negative power": (RuntimeError, lambda lib: lib.tensor([1, 2]) ** -1),
    "clamp without bounds": (RuntimeError, lambda lib: lib.clamp(lib.tensor([1.0]))),
    "where float condition": (RuntimeError, lambda lib: lib.where(lib.tensor([1.0]), 1.0, 0.0)),
    "bitwise float": (NotImplementedError, lambda lib: lib.tensor([1.0]) & lib.tensor([1.0])),
    "bitwise int & float": (NotImplementedError, lambda lib: lib.tensor([1]) | 1.5),
    "bitwise_not float": (NotImplementedError, lambda lib: lib.tensor([1.0]).bitwise_not()),
    "invert float": (TypeError, lambda lib: ~lib.tensor([1.0])),
    "broadcast": (RuntimeError, lambda lib: lib.tensor([1.0, 2.0]) * lib.tensor([1.0, 2.0, 3.0])),
    "compare broadcast": (RuntimeError, lambda lib: lib.tensor([1.0, 2.0]) < lib.tensor([1.0, 2.0, 3.0])),
    "isclose dtypes": (RuntimeError, lambda lib: lib.isclose(lib.tensor([1.0]), lib.tensor([1.0], dtype=lib.float64))),
    "lerp dtypes": (RuntimeError, lambda lib: lib.lerp(lib.tensor([1.0]), lib.tensor([2.0], dtype=lib.float64), 0.5)),
    "div rounding mode": (RuntimeError, lambda lib: lib.div(lib.tensor([1.0]), 2, rounding_mode="x")),
    "maximum scalar": (TypeError, lambda lib: lib.maximum(lib.tensor([1.0]), 2.0)),
    "logical_and scalar": (TypeError, lambda lib: lib.logical_and(lib.tensor([True]), True)),
    "sub bools": (RuntimeError, lambda lib: lib.tensor([True]) - lib.tensor([False])),
    "round int decimals": (NotImplementedError, lambda lib: lib.round(lib.tensor([3]), decimals=1)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_input_raises_torchs_exception_type(name):
    exc, fn = ERRORS[name]
    with pytest.raises(exc) as te:
        fn(torch)
    with pytest.raises(type(te.value)):
        fn(ember)


def test_erf_family_accuracy_float64():
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, 1e-300, -1e-10, 2.4999999, 2.5, 26.0, 30.0]])
    erf = ember.erf(ember.tensor(x)).numpy()
    erfc = ember.erfc(ember.tensor(x)).numpy()
    ref_erf = np.array([math.erf(v) for v in x])
    ref_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erf, ref_erf, rtol=1e-13, atol=0)
    np.testing.assert_allclose(erfc, ref_erfc, rtol=1e-11, atol=0)
    y = np.linspace(-0.999999, 0.999999, 2001)
    inv = ember.erfinv(ember.tensor(y)).numpy()
    np.testing.assert_allclose([math.erf(v) for v in inv], y, rtol=0, atol=1e-15)
    specials = ember.erfinv(ember.tensor([1.0, -1.0, 1.5, math.nan])).numpy()
    np.testing.assert_array_equal(specials, torch.erfinv(torch.tensor([1.0, -1.0, 1.5, math.nan])).numpy())


def test_sigmoid_does_not_overflow():
    x = [-1000.0, -100.0, 0.0, 100.0, 1000.0]
    both(lambda lib: lib.sigmoid(lib.tensor(x)))
    both(lambda lib: lib.tensor(x, dtype=lib.float64).sigmoid())


def test_tensors_stay_hashable_and_compare_with_other_objects():
    a, b = ember.tensor([1.0]), ember.tensor([1.0])
    assert hash(a) != hash(b) and len({a: 0, b: 1}) == 2 and a in {a}
    assert (a == None) is False and (a != None) is True and (a == "x") is False  # noqa: E711
    assert (a == [1.0]) is False  # a list is not converted, as torch
    with pytest.raises(TypeError):
        ember.eq(a, None)


def test_allclose_and_equal_return_python_bools():
    a = ember.tensor([1.0, math.nan])
    assert ember.allclose(a, a) is False and ember.allclose(a, a, equal_nan=True) is True
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1.0, 2.0])) is True
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([[1, 2]])) is False


def test_where_with_condition_only_is_nonzero():
    if "nonzero" not in dir(ember):
        pytest.fail("ember.nonzero is missing (indexing)")
    c = [[True, False], [False, True]]
    e, t = ember.where(ember.tensor(c)), torch.where(torch.tensor(c))
    assert len(e) == len(t) == 2
    for a, b in zip(e, t):
        assert_close(a, b)


def test_double_backward_through_where_and_clamp():
    def run(lib):
        x = lib.tensor([0.3, -0.8, 1.7], dtype=lib.float64, requires_grad=True)
        y = lib.where(x > 0, x ** 3, lib.clamp(x, -0.5, 2.0) ** 2)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), x)
        return gg
    both(run)


def test_relu_split_between_threads_matches_torch(batch_split):
    """ReLU, its gradient and the gradient's gradient with the work split however small, on inputs
    with ties at zero, signed zeros and infinities, and gradients holding inf and NaN."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7, 3)).astype(np.float32)
    x.flat[:6] = [0.0, -0.0, np.inf, -np.inf, 1e-30, -1e-30]
    g = rng.standard_normal(x.shape).astype(np.float32)
    g.flat[2:9] = [np.inf, np.nan, np.inf, -np.inf, np.nan, np.inf, -np.inf]
    gg = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for lib in (ember, torch):
        xl, gl = lib.tensor(x, requires_grad=True), lib.tensor(g, requires_grad=True)
        y = lib.relu(xl)
        (gx,) = lib.autograd.grad(y, xl, gl, create_graph=True)
        (ggx,) = lib.autograd.grad(gx, gl, lib.tensor(gg))
        results.append([t.detach().numpy() for t in (y, gx, ggx)])
    for e, t in zip(*results):
        np.testing.assert_array_equal(e, t)


def test_integer_powers_with_negative_integer_exponents_as_torch():
    """Tensor exponents truncate (1 and -1 keep their magnitude); a negative Python exponent raises."""
    import torch as _t
    cases = [lambda lib: 2 ** lib.tensor([-1, 2]),
             lambda lib: lib.tensor([2, 3, 1, -1, -1, 0]) ** lib.tensor([-1, 2, -3, -3, -2, 3]),
             lambda lib: (-1) ** lib.tensor([-1, -2, 3], dtype=lib.int32)]
    for case in cases:
        t, e = case(_t), case(ember)
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    for lib in (_t, ember):
        with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
            lib.tensor([2, 3]) ** -1


# torch's schemas: which binary ops take a number as ``input`` (Scalar-Tensor overloads) and which refuse it
_NUMBER_FIRST = {  # name: (op(2, t) allowed, op(2, 3) allowed, op(t, 2) allowed)
    "clamp_max": (False, False, True), "clamp_min": (False, False, True), "copysign": (False, False, True),
    "fmod": (False, False, True), "eq": (False, False, True), "ge": (False, False, True), "lt": (False, False, True),
    "rsub": (False, False, True), "bitwise_and": (True, False, True), "bitwise_left_shift": (True, False, True),
    "remainder": (True, False, True), "pow": (True, False, True), "float_power": (True, False, True),
    "xlogy": (True, False, True), "logical_and": (False, False, False), "gcd": (False, False, False),
    "lcm": (False, False, False), "ldexp": (False, False, False), "isclose": (False, False, False),
    "nextafter": (False, False, False)}


@pytest.mark.parametrize("name", sorted(_NUMBER_FIRST))
def test_number_operands_accepted_or_refused_as_torch(name):
    """A Python number where torch's schema takes a Tensor raises TypeError; where it takes a Scalar, it works."""
    for args, allowed in zip(((2, "t"), (2, 3), ("t", 2)), _NUMBER_FIRST[name]):
        results = []
        for lib in (torch, ember):
            t = lib.tensor([1, 2, 3])
            call = [t if a == "t" else a for a in args]
            try:
                results.append(getattr(lib, name)(*call))
            except TypeError:
                results.append(TypeError)
        assert (results[0] is not TypeError) == allowed, f"torch.{name}{args}: the table is wrong"
        if allowed:
            assert_close(results[1], results[0], what=f"{name}{args}")
        else:
            assert results[1] is TypeError, f"ember.{name}{args} does not raise TypeError"


@pytest.mark.parametrize("op", ["__radd__", "__rsub__", "__rmul__", "__rpow__", "__rmod__", "__rand__", "__rdiv__"])
def test_reflected_operators_compute_as_torch(op):
    both(lambda lib: getattr(lib.tensor([1, 2, 3]), op)(3))
    both(lambda lib: getattr(lib.tensor([5, 3]), op)(lib.tensor([4, 1])))
    both(lambda lib: lib.rsub(lib.tensor([1.5, 2.0]), lib.tensor([4.0, 1.0]), alpha=2))


@pytest.mark.parametrize("op", ["__radd__", "__rmul__", "__rand__", "__ror__", "__rxor__"])
def test_reflected_operators_refuse_a_non_tensor_self_as_torch(op):
    """torch's C-level reflected operators refuse an unbound call with a number as ``self``."""
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            getattr(lib.Tensor, op)(2, lib.tensor([1, 2, 3]))


def test_isclose_refuses_negative_tolerances():
    for lib in (torch, ember):
        a = lib.tensor([1.0])
        for kw in ({"rtol": -0.5}, {"atol": -0.5}):
            with pytest.raises(RuntimeError, match="must be greater than or equal to zero"):
                lib.isclose(a, a, **kw)


def test_frexp_and_nextafter_gradients_as_torch():
    """frexp's mantissa has gradient 2**-exponent; nextafter passes the gradient to input, zero to other."""
    x = np.array([3.0, -0.7, 1e-3, 40.0, 0.0])
    o = np.array([4.0, -1.0, 0.0, 40.0, 1.0])
    res = []
    for lib in (torch, ember):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(o, requires_grad=True)
        m, e = lib.frexp(a)
        n = lib.nextafter(a, b)
        ga, gb = lib.autograd.grad((m * lib.tensor(o)).sum() + (n * n).sum(), (a, b))
        assert not e.requires_grad and e.dtype == lib.int32
        res.append([t.detach().numpy() for t in (m, e, n, ga, gb)])
    for ev, tv in zip(res[1], res[0]):
        np.testing.assert_array_equal(ev, tv)


@pytest.mark.parametrize("fill", ["cauchy_", "log_normal_", "geometric_"])
def test_random_fillers_distribution_dtype_and_errors_as_torch(fill):
    """Quantiles of 20000 draws near the exact ones (the streams differ from torch's); torch's errors."""
    args = {"cauchy_": (1.0, 0.5), "log_normal_": (0.0, 0.25), "geometric_": (0.3,)}[fill]
    # exact quartiles (hand-derived): median + sigma tan(pi (q - 1/2)); exp(mu + sigma z_q); the geometric
    # law's smallest k with 1 - 0.7**k >= q
    exact = {"cauchy_": [0.5, 1.0, 1.5], "log_normal_": [math.exp(0.25 * z) for z in (-0.6744898, 0, 0.6744898)],
             "geometric_": [1, 2, 4]}[fill]
    ember.manual_seed(0)
    torch.manual_seed(0)
    for lib in (ember, torch):
        x = getattr(lib.zeros(20000, dtype=lib.float64), fill)(*args).numpy()
        assert x.dtype == np.float64 and x.shape == (20000,)
        np.testing.assert_allclose(np.quantile(x, [0.25, 0.5, 0.75]), exact, atol=0.05, err_msg=lib.__name__)
    bad = {"cauchy_": (0.0, 0.0), "log_normal_": (0.0, -1.0), "geometric_": (1.0,)}[fill]
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            getattr(lib.zeros(3), fill)(*bad)
        if fill == "geometric_":
            with pytest.raises(NotImplementedError):
                lib.zeros(3, dtype=lib.bool).geometric_(0.5)
            assert lib.zeros(4, dtype=lib.int64).geometric_(0.5).dtype == lib.int64
        else:
            with pytest.raises(RuntimeError if fill == "cauchy_" else NotImplementedError):
                getattr(lib.zeros(3, dtype=lib.int64), fill)(*args)


def test_softmin_negates_in_the_input_dtype_as_torch():
    """softmin(x, dtype=) is softmax(-x) with -x taken in x's dtype: uint8 wraps around, as torch."""
    x = np.array([[5, 1, 0], [4, 2, 9]], dtype=np.uint8)
    both(lambda lib: lib.nn.functional.softmin(lib.tensor(x), 1, dtype=lib.float64))
    both(lambda lib: lib.nn.functional.softmin(lib.tensor(x.astype(np.float32)), 0, dtype=lib.float64))


@pytest.mark.parametrize("call", [
    lambda lib, o: lib.add(lib.tensor([1.5, 2.5]), 1, out=o), lambda lib, o: lib.mul(lib.tensor([1, 2]), 3, out=o),
    lambda lib, o: lib.div(lib.tensor([1, 2]), 4, out=o), lambda lib, o: lib.sub(lib.tensor([1.0, 2.0]), 0.5, out=o),
    lambda lib, o: lib.eq(lib.tensor([1.5, 2.5]), 1.5, out=o), lambda lib, o: lib.lt(lib.tensor([1, 3]), 2, out=o)])
@pytest.mark.parametrize("out", [("float32", 2), ("float64", 2), ("int64", 2), ("bool", 2), ("float32", 3),
                                 ("float64", 0)])
def test_out_cast_resized_and_returned_as_torch(call, out):
    """out= takes the result cast to its dtype (RuntimeError where torch forbids the cast), is resized (warning
    when it held elements) and returned; an argument that requires grad refuses out=."""
    import warnings
    res = []
    for lib in (torch, ember):
        o = lib.full((out[1],), 7, dtype=getattr(lib, out[0]))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                r = call(lib, o)
            except RuntimeError:
                res.append(("error", None))
                continue
        assert r is o
        res.append((str(o.dtype), o.tolist(), sorted({str(x.category.__name__) for x in w})))
    assert res[1] == res[0]
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            lib.add(lib.ones(2, requires_grad=True), 1, out=lib.zeros(2))
