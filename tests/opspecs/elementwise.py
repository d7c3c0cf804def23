"""Specs of the elementwise ops (ember/_ops/elementwise.py)."""
from opinfo import OpSpec, Sample, arr, positive, unary_samples, binary_samples

SPECS = [
    OpSpec("add", lambda lib, a, b: lib.add(a, b), binary_samples()),
    OpSpec("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=0.5), binary_samples()),
    OpSpec("sub", lambda lib, a, b: a - b, binary_samples()),
    OpSpec("rsub", lambda lib, a, b: 3.0 - a, binary_samples()),
    OpSpec("mul", lambda lib, a, b: a * b, binary_samples()),
    OpSpec("rmul", lambda lib, a, b: 2 * a, binary_samples()),
    OpSpec("div", lambda lib, a, b: a / b, binary_samples(gen_b=positive)),
    OpSpec("rdiv", lambda lib, a, b: 2.0 / b if hasattr(b, "shape") else 2.0 / a,
           binary_samples(gen_a=positive, gen_b=positive)),
    OpSpec("neg", lambda lib, x: -x, unary_samples()),
    OpSpec("exp", lambda lib, x: lib.exp(x), unary_samples()),
    OpSpec("tanh", lambda lib, x: lib.tanh(x), unary_samples()),
    OpSpec("log", lambda lib, x: lib.log(x), unary_samples(positive)),
    OpSpec("sum", lambda lib, x: x.sum(), unary_samples()),
    OpSpec("sum_dim", lambda lib, x: x.sum(-1, keepdim=True), unary_samples(shapes=[(5,), (3, 4), (2, 3, 4)])),
]
