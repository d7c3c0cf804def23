"""foreach op database entries (or entry checks) ember does not pass yet, each with its reason.

Every gap is the single-tensor op's, not the foreach machinery's: torch's foreach database lists every
dtype for every entry, including those where torch's own CPU kernel has no implementation (it raises
NotImplementedError), and ember's op computes a result or refuses with another exception class there.
A check named by a dtype compares the out-of-place results; "<dtype> in place" the in-place form. An
entry whose check passes must leave the list (the suite fails otherwise)."""
COMPLEX = ("complex64", "complex128")
INTS = ("int8", "int16", "int32", "int64", "uint8")


def _gap(dtypes, reason: str, inplace: str | None = None) -> dict:
    """The same reason for the out-of-place and in-place checks of ``dtypes`` (``inplace``: another for those)."""
    return {c: r for d in dtypes for c, r in ((d, reason), (f"{d} in place", inplace or reason))}


def _no_kernel(op: str) -> str:
    return f"torch's CPU {op} has no kernel for this dtype (NotImplementedError); ember's {op} computes one"


def _numpy_refuses(op: str) -> str:
    return f"NumPy has no {op} for complex: ember raises its TypeError where torch raises NotImplementedError"


_CAST = "ember's in-place form refuses the result's cast (RuntimeError) before torch's missing kernel would"
GAPS: dict = {
    "_foreach_ceil": {**_gap(["bool"], _no_kernel("ceil")), **_gap(COMPLEX, _numpy_refuses("ceil"))},
    "_foreach_floor": {**_gap(["bool"], _no_kernel("floor")), **_gap(COMPLEX, _numpy_refuses("floor"))},
    "_foreach_trunc": {**_gap(["bool"], _no_kernel("trunc")), **_gap(COMPLEX, _numpy_refuses("trunc"))},
    "_foreach_round": _gap(["bool", *COMPLEX], _no_kernel("round")),
    "_foreach_frac": {**_gap(["bool", *INTS], _no_kernel("frac"), _CAST), **_gap(COMPLEX, _numpy_refuses("trunc"))},
    "_foreach_erf": _gap(COMPLEX, _no_kernel("erf")),
    "_foreach_erfc": _gap(COMPLEX, _no_kernel("erfc")),
    "_foreach_lgamma": _gap(COMPLEX, _no_kernel("lgamma")),
    "_foreach_sigmoid": _gap(COMPLEX, "ember's sigmoid has no complex form (NumPy's logaddexp refuses complex); "
                                      "torch's computes one"),
    "_foreach_abs": {**_gap(["bool"], _no_kernel("abs")),
                     "complex64 in place": "torch refuses in-place abs of a complex tensor (RuntimeError); ember's "
                                           "abs_ writes |z| into it",
                     "complex128 in place": "torch refuses in-place abs of a complex tensor (RuntimeError); ember's "
                                            "abs_ writes |z| into it"},
    "_foreach_add": _gap(["bool"], "add(bool, bool, alpha=True): ember's result is int64 (the in-place form "
                                   "refuses the cast), torch's stays bool"),
    "_foreach_clamp_min": {**_gap(["bool"], _no_kernel("clamp_min"), _CAST), **_gap(COMPLEX, _no_kernel("clamp_min"))},
    "_foreach_clamp_max": {**_gap(["bool"], _no_kernel("clamp_max"), _CAST), **_gap(COMPLEX, _no_kernel("clamp_max"))},
    "_foreach_maximum": {**_gap(["bool"], _no_kernel("clamp_min"), _CAST), **_gap(COMPLEX, _no_kernel("maximum"))},
    "_foreach_minimum": {**_gap(["bool"], _no_kernel("clamp_max"), _CAST), **_gap(COMPLEX, _no_kernel("minimum"))},
    "_foreach_pow": _gap(["bool"], _no_kernel("pow"), _CAST),
    "_foreach_addcmul": _gap(["bool"], _no_kernel("addcmul")),
    "_foreach_addcdiv": _gap(COMPLEX, "ember's addcdiv takes complex operands for integers and refuses them "
                                      "(RuntimeError: integer division); torch divides"),
    "_foreach_max": {d: _no_kernel("max") for d in COMPLEX},
    "_foreach_norm": {**{d: "ember's linalg.vector_norm computes the norm of an integer or bool tensor; torch "
                            "refuses it (RuntimeError)" for d in ("bool", *INTS)}},
    "_foreach_lerp": {**_gap(["bool"], "ember's lerp subtracts bool tensors (RuntimeError) where torch has no "
                                       "kernel (NotImplementedError)"),
                      **_gap(INTS, _no_kernel("lerp")),
                      **_gap(["float16"], "ember's float16 lerp with a scalar weight rounds otherwise than "
                                          "torch's (beyond float16 tolerance on one sample)")},
    "_foreach_mm": {"bool": _no_kernel("mm")},
}
