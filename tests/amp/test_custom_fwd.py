"""ember.amp.custom_fwd / custom_bwd under ember's CPU autocast: the same code under ember and torch 2.13.0."""
import pytest
import torch

import ember


def _function(lib, cast_inputs):
    seen = {}

    class MulMM(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, a, b, extra):
            seen["fwd"] = (str(a.dtype), str(extra["w"].dtype), lib.is_autocast_enabled("cpu"))
            ctx.save_for_backward(a, b)
            return a.mm(b)

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            seen["bwd"] = (lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu")), str(g.dtype))
            return g.mm(b.t()), a.t().mm(g), None
    return MulMM, seen


@pytest.mark.parametrize("cast_inputs", [None, "float32", "bfloat16"])
@pytest.mark.parametrize("autocast_on", [True, False])
def test_custom_fwd_bwd_match_torch(cast_inputs, autocast_on):
    def run(lib):
        fn, seen = _function(lib, None if cast_inputs is None else getattr(lib, cast_inputs))
        a = lib.ones(2, 3, requires_grad=True)
        b = lib.full((3, 2), 0.5, requires_grad=True)
        extra = {"w": lib.ones(1, dtype=lib.float64)}
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=autocast_on):
            out = fn.apply(a, b, extra)
        out.float().sum().backward()
        return [str(out.dtype).split(".")[1], seen, str(a.grad.dtype), a.grad.tolist(), b.grad.tolist()]
    e, t = run(ember), run(torch)
    for side in (e, t):  # dtype names print as ember.x / torch.x
        for k in side[1]:
            side[1][k] = tuple(str(v).replace("ember.", "").replace("torch.", "") for v in side[1][k])
        side[2] = side[2].split(".")[1]
    assert e == t


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_device_type_must_be_a_string(lib):
    for deco in (lambda: lib.amp.custom_fwd(device_type=None), lambda: lib.amp.custom_bwd(device_type=1)):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            deco()
    with pytest.raises(TypeError):
        lib.amp.custom_fwd(lambda ctx: None)  # device_type is keyword-only and required


def test_is_autocast_available():
    devices = ["cpu", "cuda", "ipu", "xpu", "hip", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
               "privateuseone"]
    assert [ember.amp.is_autocast_available(d) for d in devices] == [torch.amp.is_autocast_available(d) for d in devices]
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
            lib.amp.is_autocast_available("foo")
