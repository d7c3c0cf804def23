"""The API surface real PyTorch programs touch (issue 8), each call run on torch 2.13.0's CPU build and on ember.

Where a feature cannot exist on a CPU NumPy framework, ember must answer as torch's CPU build does: the flag
exists, ``is_available()`` is False, or the call raises torch's exception class.
"""
import importlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import ember

LIBS = pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])


def _outcome(fn):
    """What a call gives: ('ok', value) or ('raise', exception class)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", fn()
        except Exception as e:  # noqa: BLE001
            return "raise", type(e)


def _same(fn):
    """Run ``fn(lib)`` on both; return (torch outcome, ember outcome), asserting the same kind of outcome."""
    t, e = _outcome(lambda: fn(torch)), _outcome(lambda: fn(ember))
    assert t[0] == e[0], (t, e)
    if t[0] == "raise":
        assert issubclass(e[1], t[1]), (t, e)
    return t, e


# ---------------------------------------------------------------------------------------------- devices
@pytest.mark.parametrize("call", [
    lambda L: L.accelerator.is_available(), lambda L: L.accelerator.current_accelerator(),
    lambda L: L.accelerator.device_count(), lambda L: L.accelerator.current_device_index(),
    lambda L: L.accelerator.synchronize(), lambda L: L.accelerator.set_device_index(0),
    lambda L: L.accelerator.device_index(None).__enter__(), lambda L: L.accelerator.device_index(0).__enter__(),
    lambda L: L.cuda.is_available(), lambda L: L.cuda.device_count(), lambda L: L.cuda.is_bf16_supported(),
    lambda L: L.cuda.current_device(), lambda L: L.cuda.synchronize(), lambda L: L.cuda.get_device_name(),
    lambda L: L.cuda.memory_allocated(), lambda L: L.cuda.max_memory_allocated(), lambda L: L.cuda.manual_seed(0),
    lambda L: L.cuda.manual_seed_all(0), lambda L: L.cuda.empty_cache(), lambda L: L.cuda.FloatTensor([1.0]),
    lambda L: L.backends.mps.is_available(), lambda L: L.backends.mps.is_built(), lambda L: L.backends.cuda.is_built(),
    lambda L: L.backends.cudnn.is_available(), lambda L: L.backends.cudnn.version(),
    lambda L: (L.backends.cudnn.enabled, L.backends.cudnn.benchmark, L.backends.cudnn.deterministic,
               L.backends.cudnn.allow_tf32),
    lambda L: (L.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
               L.backends.cuda.matmul.allow_bf16_reduced_precision_reduction),
    lambda L: (L.backends.cuda.flash_sdp_enabled(), L.backends.cuda.math_sdp_enabled(),
               L.backends.cuda.mem_efficient_sdp_enabled()),
    lambda L: L.backends.cuda.matmul.no_such_flag, lambda L: setattr(L.backends.cuda.matmul, "no_such_flag", 1),
    lambda L: L.zeros(2).cuda(), lambda L: L.zeros(2).to("cuda"), lambda L: L.zeros(2).to("cuda:0"),
    lambda L: L.zeros(2, device="cuda"), lambda L: L.nn.Linear(2, 2).cuda(), lambda L: L.zeros(2, device="mps"),
    lambda L: L.zeros(2).to(L.device("cuda")),
])
def test_device_queries_answer_as_torch_cpu_build(call):
    t, e = _same(call)
    if t[0] == "ok" and not hasattr(t[1], "__enter__"):
        assert t[1] == e[1]


def test_cuda_errors_are_also_not_implemented_errors_naming_the_call():
    with pytest.raises(NotImplementedError, match="synchronize"):
        ember.cuda.synchronize()
    with pytest.raises(NotImplementedError, match="current_device_index"):
        ember.accelerator.current_device_index()


def test_tf32_flag_and_matmul_precision_move_together():
    for lib in (torch, ember):
        before = lib.get_float32_matmul_precision()
        try:
            seen = []
            for value in (True, False):
                lib.backends.cuda.matmul.allow_tf32 = value
                seen.append((lib.backends.cuda.matmul.allow_tf32, lib.get_float32_matmul_precision()))
            for p in ("medium", "high", "highest"):
                lib.set_float32_matmul_precision(p)
                seen.append((lib.backends.cuda.matmul.allow_tf32, lib.get_float32_matmul_precision()))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lib.set_float32_matmul_precision("bad")
            seen.append(lib.get_float32_matmul_precision())
            lib.backends.cudnn.benchmark = True
            seen.append(lib.backends.cudnn.benchmark)
        finally:
            lib.set_float32_matmul_precision(before)
            lib.backends.cudnn.benchmark = False
        if lib is torch:
            expected = seen
    assert seen == expected


# ---------------------------------------------------------------------------------------------- imports and names
@pytest.mark.parametrize("mod", ["nn.parallel", "distributed", "onnx", "nn.modules.activation", "nn.modules.linear",
                                 "nn.modules.batchnorm", "nn.modules.dropout", "nn.modules.pixelshuffle",
                                 "nn.modules.utils", "cuda.amp", "amp", "backends.cuda", "backends.cudnn",
                                 "accelerator", "autograd.variable"])
def test_torch_module_paths_import(mod):
    importlib.import_module(f"torch.{mod}")
    importlib.import_module(f"ember.{mod}")


@pytest.mark.parametrize("path", [
    "nn.modules.activation.MultiheadAttention", "nn.modules.linear.NonDynamicallyQuantizableLinear",
    "nn.modules.batchnorm.BatchNorm2d", "nn.modules.batchnorm._BatchNorm", "nn.modules.dropout.Dropout2d",
    "nn.modules.pixelshuffle.PixelShuffle", "nn.modules.rnn.LSTM", "nn.modules.transformer.TransformerEncoderLayer",
    "nn.DataParallel", "nn.parallel.DistributedDataParallel", "autograd.Variable", "cuda.amp.GradScaler",
    "amp.GradScaler", "autocast", "bfloat16", "float16", "compile", "pi", "inf", "nan", "e",
])
def test_torch_names_resolve(path):
    objs = []
    for lib in (torch, ember):
        obj = lib
        for part in path.split("."):
            obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(f"{obj.__name__}.{part}")
        objs.append(obj)
    if isinstance(objs[0], float):
        assert objs[0] == objs[1] or (np.isnan(objs[0]) and np.isnan(objs[1]))


def test_module_path_classes_behave_as_torchs():
    from torch.nn.modules import utils as tu
    from ember.nn.modules import utils as eu
    for f in ("_single", "_pair", "_triple", "_quadruple"):
        for v in (3, (1, 2), [4, 5, 6]):
            assert getattr(tu, f)(v) == getattr(eu, f)(v)
    assert eu._reverse_repeat_tuple((1, 2), 2) == tu._reverse_repeat_tuple((1, 2), 2)
    sd_t, sd_e = {"module.a": 1, "module.b": 2, "c": 3}, {"module.a": 1, "module.b": 2, "c": 3}
    tu.consume_prefix_in_state_dict_if_present(sd_t, "module.")
    eu.consume_prefix_in_state_dict_if_present(sd_e, "module.")
    assert sd_t == sd_e
    assert issubclass(ember.nn.modules.linear.NonDynamicallyQuantizableLinear, ember.nn.Linear)
    assert issubclass(torch.nn.modules.linear.NonDynamicallyQuantizableLinear, torch.nn.Linear)
    assert ember.nn.modules.activation.MultiheadAttention is ember.nn.MultiheadAttention


def test_nn_modules_submodules_are_attributes_as_torch():
    # torchvision's references: isinstance(m, nn.modules.batchnorm._BatchNorm), nn.modules.utils._pair
    for name in ("batchnorm", "instancenorm", "pixelshuffle", "utils", "conv", "linear", "normalization"):
        assert hasattr(torch.nn.modules, name) and hasattr(ember.nn.modules, name), name
    assert isinstance(ember.nn.BatchNorm2d(2), ember.nn.modules.batchnorm._BatchNorm)
    assert ember.nn.modules.utils._pair(3) == torch.nn.modules.utils._pair(3)


def test_absent_torch_names_raise_not_implemented_and_keep_hasattr_false():
    # names torch has and ember lacks: a NotImplementedError naming them, which hasattr still reads as False
    for owner, name, shown in ((ember, "fx", "torch.fx"), (ember, "frombuffer", "torch.frombuffer"),
                               (ember.nn, "quantized", "torch.nn.quantized")):
        assert not hasattr(owner, name)
        with pytest.raises(NotImplementedError, match=shown.replace(".", r"\.")):
            getattr(owner, name)
    with pytest.raises(NotImplementedError, match=r"torch\.fx"):
        importlib.import_module("ember.fx")
    with pytest.raises(ImportError):  # ``try: import torch.fx / except ImportError`` still falls back
        importlib.import_module("ember.fx")
    sys.modules.pop("ember.fx", None)
    with pytest.raises(NotImplementedError, match=r"Tensor\.to_mkldnn"):
        ember.ones(2).to_mkldnn()
    # complex32 is no longer absent (tests/test_complex32.py): names present as on torch
    assert ember.ones(2).chalf().dtype is ember.complex32 is ember.chalf
    # a name torch lacks too stays a plain AttributeError / ImportError, as on torch
    for lib in (torch, ember):
        with pytest.raises(AttributeError) as info:
            lib.not_a_torch_name
        assert not isinstance(info.value, NotImplementedError)
        with pytest.raises(ImportError) as info:
            importlib.import_module(f"{lib.__name__}.not_a_torch_module")
        assert not isinstance(info.value, NotImplementedError)
    # feature detection as nanoGPT does it
    assert hasattr(ember.nn.functional, "scaled_dot_product_attention") == hasattr(
        torch.nn.functional, "scaled_dot_product_attention")
    assert hasattr(ember, "compile") and hasattr(torch, "compile")


# ---------------------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                                  "uint8", "bool", "float", "double", "half", "long", "int", "short"])
def test_dtype_prints_as_torch(name):
    assert str(getattr(ember, name)) == str(getattr(torch, name))
    assert repr(getattr(ember, name)) == repr(getattr(torch, name))
    assert f"{getattr(ember, name)}".split(".")[-1] == name if name in ("float32", "int64") else True


def test_dtype_in_tensor_repr_and_bfloat16_attributes_as_torch():
    assert repr(ember.zeros(2, dtype=ember.float64)) == repr(torch.zeros(2, dtype=torch.float64))
    for attr in ("is_floating_point", "is_signed", "itemsize"):
        assert getattr(ember.bfloat16, attr) == getattr(torch.bfloat16, attr)


@pytest.mark.parametrize("make", [lambda L: L.zeros(2, dtype=L.bfloat16), lambda L: L.ones(2).to(L.bfloat16),
                                  lambda L: L.tensor([1.0], dtype=L.bfloat16), lambda L: L.ones(2).bfloat16()])
def test_bfloat16_tensors_as_torch(make):
    t, e = make(torch), make(ember)  # ember's bfloat16 arrays come from ml_dtypes (see tests/test_dtype.py)
    assert t.dtype is torch.bfloat16 and e.dtype is ember.bfloat16
    np.testing.assert_array_equal(e.float().numpy(), t.float().numpy())


# ---------------------------------------------------------------------------------------------- constructors
@pytest.mark.parametrize("args", [(2, 3), (3,), (0,), ((2, 3),), ([2, 3],), ([[1, 2], [3, 4]],), (),
                                  ("size",), ([1.5, -2.0],)], ids=str)
def test_legacy_tensor_constructor(args):
    def make(L):
        a = tuple(L.Size([2, 3]) if x == "size" else x for x in args)
        return L.Tensor(*a)
    t, e = make(torch), make(ember)
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype) == str(t.dtype)
    assert e.requires_grad is t.requires_grad is False
    if not (args and isinstance(args[0], int)) and args != ("size",) and args != ():
        np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("arr", [np.array([True, False]), np.array([1, 2]), np.array([1.5, 2.0]),
                                 np.array([1.5, 2.0], dtype=np.float32), np.array(3.5)], ids=str)
def test_legacy_tensor_constructor_from_ndarray(arr):
    t, e = torch.Tensor(arr.copy()), ember.Tensor(arr.copy())  # CleanRL: torch.Tensor(np dones/obs)
    assert str(e.dtype) == str(t.dtype) == "torch.float32" and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    shared = np.array([1.0, 2.0], dtype=np.float32)
    ember.Tensor(shared)[0] = 9.0  # already the default dtype: shares memory, as torch's does
    assert shared[0] == 9.0


def test_parameter_from_legacy_tensor():
    for L in (torch, ember):
        p = L.nn.Parameter(L.Tensor(4, 5))
        L.nn.init.zeros_(p)
        assert tuple(p.shape) == (4, 5) and p.requires_grad and p.is_leaf
        assert float(p.sum()) == 0.0


@pytest.mark.parametrize("call", [
    lambda L: L.empty(size=(2, 3)).shape, lambda L: L.zeros(size=(2, 3)), lambda L: L.ones(size=[4]),
    lambda L: L.zeros(size=3), lambda L: L.rand(size=(2, 3)).shape, lambda L: L.randn(size=(2, 3)).shape,
    lambda L: L.zeros(size=(2,), dtype=L.int64), lambda L: L.full(size=(2, 2), fill_value=3.0),
    lambda L: L.randint(0, 5, size=(3,)).shape, lambda L: L.zeros((2,), size=(2,)),
])
def test_size_keyword_on_factories(call):
    t, e = _same(call)
    if t[0] == "ok":
        tv, ev = t[1], e[1]
        if hasattr(tv, "numpy"):
            tv, ev = tv.numpy(), ev.numpy()
            assert str(tv.dtype) == str(ev.dtype)
        np.testing.assert_array_equal(np.asarray(ev), np.asarray(tv))


def test_indexing_with_a_range():
    res = []
    for L in (torch, ember):
        x = L.zeros(3, 4)
        idx = L.tensor([0, 2, 1])
        x[range(3), idx] = 1
        y = L.arange(12.0).reshape(3, 4)
        res.append((x.numpy().copy(), y[range(2)].numpy(), y[range(3), idx].numpy(), y[:, range(1, 3)].numpy()))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


def test_variable():
    for L in (torch, ember):
        from_lib = importlib.import_module(f"{L.__name__}.autograd").Variable
        x = L.ones(2)
        v = from_lib(x)
        w = from_lib(x, requires_grad=True)
        y = L.ones(2, requires_grad=True) * 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vol = from_lib(L.ones(2), volatile=True)
        out = (v is x, v.requires_grad, w.requires_grad, x.requires_grad, w.is_leaf, isinstance(x, from_lib),
               from_lib(y).grad_fn is None, from_lib(y).requires_grad, vol.requires_grad, tuple(from_lib().shape))
        (w * 3).sum().backward()
        out += (w.grad.tolist(),)
        with pytest.raises(TypeError):
            from_lib([1.0, 2.0])
        if L is torch:
            expected = out
    assert out == expected


def test_lstm_flatten_parameters_is_a_no_op():
    for L in (torch, ember):
        L.manual_seed(0)
        m = L.nn.LSTM(3, 4, num_layers=2)
        before = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
        assert m.flatten_parameters() is None
        assert all(np.array_equal(before[k], v.detach().numpy()) for k, v in m.state_dict().items())


def test_dropout2d_on_2d_input_warns_and_drops_entries():
    for L in (torch, ember):
        L.manual_seed(0)
        x = L.ones(64, 8)
        with pytest.warns(UserWarning, match="2-D input to dropout2d"):
            y = L.nn.Dropout2d(0.5)(x)
        vals = set(np.unique(y.numpy()).tolist())
        assert vals == {0.0, 2.0} and tuple(y.shape) == (64, 8)
        assert 0.3 < float((y == 0).float().mean()) < 0.7  # entry-wise, not whole rows
        assert not (y.numpy() == 0).all(axis=1).all()
        m = L.nn.Dropout2d(0.5).eval()
        with pytest.warns(UserWarning):
            np.testing.assert_array_equal(m(x).numpy(), x.numpy())


# ---------------------------------------------------------------------------------------------- amp
def _scaler_run(L, device, **kw):
    """A training loop through GradScaler, with one step whose loss is infinite; what it returns is compared."""
    L.manual_seed(0)
    lin = L.nn.Linear(3, 2)
    with L.no_grad():
        lin.weight.copy_(L.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]))
        lin.bias.copy_(L.tensor([0.01, -0.02]))
    opt = L.optim.SGD(lin.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = L.amp.GradScaler(device, **kw) if device else L.cuda.amp.GradScaler(**kw)
    x = L.tensor([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
    out = [scaler.is_enabled(), scaler.get_scale()]
    for step in range(6):
        opt.zero_grad()
        loss = lin(x).pow(2).sum() * (float("inf") if step == 3 else 1.0)
        scaled = scaler.scale(loss)
        out.append(float(scaled))
        scaled.backward()
        out.append(lin.weight.grad.numpy().copy())
        if step % 2:
            scaler.unscale_(opt)
            out.append(lin.weight.grad.numpy().copy())
            L.nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
        out.append(scaler.step(opt))
        scaler.update()
        out += [scaler.get_scale(), lin.weight.detach().numpy().copy(), scaler.state_dict()]
    scaler.update(2.0) if scaler.is_enabled() else None
    out.append(scaler.get_scale())
    return out


@pytest.mark.parametrize("device,kw", [("cpu", {}), ("cpu", dict(init_scale=8.0, growth_interval=2)),
                                       ("cpu", dict(enabled=False)), ("cuda", {}), (None, {})])
def test_grad_scaler_matches_torch(device, kw):
    t, e = _scaler_run(torch, device, **kw), _scaler_run(ember, device, **kw)
    assert len(t) == len(e)
    for a, b in zip(t, e):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        elif isinstance(a, float):
            np.testing.assert_allclose(b, a, rtol=1e-6)  # inf and nan (a disabled scaler's overflow) compare equal
        else:
            assert a == b


@pytest.mark.parametrize("misuse", ["unscale_twice", "step_twice", "update_first", "closure", "bad_outputs",
                                    "empty_state"])
def test_grad_scaler_misuse_raises_as_torch(misuse):
    def run(L):
        lin = L.nn.Linear(2, 1)
        opt = L.optim.SGD(lin.parameters(), lr=0.1)
        s = L.amp.GradScaler("cpu")
        if misuse == "update_first":
            return s.update()
        if misuse == "bad_outputs":
            return s.scale(3.0)
        if misuse == "empty_state":
            return s.load_state_dict({})
        s.scale(lin(L.ones(1, 2)).sum()).backward()
        if misuse == "unscale_twice":
            s.unscale_(opt)
            s.unscale_(opt)
        if misuse == "step_twice":
            s.step(opt)
            s.step(opt)
        if misuse == "closure":
            s.step(opt, closure=lambda: 0.0)
    t, _ = _same(run)
    assert t[0] == "raise"


def test_grad_scaler_scales_nested_outputs():
    for L in (torch, ember):
        s = L.amp.GradScaler("cpu", init_scale=4.0)
        out = s.scale([L.ones(1), (L.ones(2, dtype=L.float64),)])
        assert isinstance(out, list) and isinstance(out[1], tuple)
        assert out[0].tolist() == [4.0] and out[1][0].tolist() == [4.0, 4.0] and str(out[1][0].dtype).endswith("64")


def test_autocast_flags_as_torch_cpu_build():
    def run(L):
        seen = [L.is_autocast_enabled(), L.is_autocast_enabled("cpu")]
        with L.autocast("cpu"):
            seen += [L.is_autocast_enabled("cpu"), L.is_autocast_enabled(), str(L.get_autocast_dtype("cpu"))]
            with L.autocast("cpu", enabled=False):
                seen.append(L.is_autocast_enabled("cpu"))
            seen.append(L.is_autocast_enabled("cpu"))
        seen.append(L.is_autocast_enabled("cpu"))
        with pytest.warns(UserWarning):
            with L.autocast("cuda"):
                seen.append(L.is_autocast_enabled("cuda"))
        with pytest.warns(UserWarning):
            with L.autocast("cpu", dtype=L.float64):
                seen.append(L.is_autocast_enabled("cpu"))
        with pytest.raises(RuntimeError):
            L.autocast("tpu")

        @L.autocast(device_type="cpu", dtype=L.float16)
        def f():
            return L.is_autocast_enabled("cpu"), str(L.get_autocast_dtype("cpu"))
        seen.append(f())
        return seen
    assert run(torch) == run(ember)


def test_autocast_region_runs_linear_in_bfloat16_as_torch():
    # torch's CPU autocast runs linear in bfloat16 (float32 inputs cast, products summed in float32 and rounded
    # once); outside the region float32 again (the op lists are tested in tests/test_bfloat16.py)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    outs = []
    for L in (torch, ember):
        with L.autocast("cpu"):
            y = L.nn.functional.linear(L.tensor(x), L.tensor(w))
        after = L.nn.functional.linear(L.tensor(x), L.tensor(w))
        outs.append((str(y.dtype), str(after.dtype), y.float().detach().numpy()))
    assert outs[1][:2] == outs[0][:2] == ("torch.bfloat16", "torch.float32")
    np.testing.assert_array_equal(outs[1][2], outs[0][2])


def test_compile_manual_seed_and_set_num_threads_are_accepted():
    lin = ember.nn.Linear(2, 2)
    assert ember.compile(lin) is lin and ember.compile(mode="max-autotune")(lin) is lin
    assert ember.manual_seed(0) is not None and torch.manual_seed(0) is not None


# ---------------------------------------------------------------------------------------------- inventory
def test_every_name_used_by_more_than_one_project_resolves_on_ember():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    try:
        import api_inventory as inv
    finally:
        sys.path.pop(0)
    names = json.loads(inv.INVENTORY.read_text())["names"]
    missing = []
    for name, per in names.items():
        if len(per) > 1 and inv.status(torch, name)[0] == "ok":
            state, detail = inv.status(ember, name)
            if state == "missing":
                missing.append(f"{name}: {detail}")
    assert not missing, missing


# ---------------------------------------------------------------------------------------------- legacy spellings
def test_legacy_new_deprecated_init_and_version_as_torch():
    for L in (torch, ember):
        x = L.ones(2, 3, dtype=L.float64)
        made = [x.new(2), x.new([1, 2]), x.new(), x.new(L.Size([2, 2])), x.new(2, 1)]
        out = [(tuple(t.shape), str(t.dtype)) for t in made] + [made[1].tolist()]
        with pytest.warns(FutureWarning, match="nn.init.constant_"):
            t = L.nn.init.constant(L.empty(3), 2.5)
        with pytest.warns(FutureWarning):
            L.nn.init.kaiming_normal(L.empty(3, 4), mode="fan_out")
        out += [t.tolist(), L.version.cuda, L.version.hip, hasattr(L, "version")]
        if L is torch:
            expected = out
    assert out == expected


def test_script_boilerplate_flags_as_torch():
    def run(L):
        out = [L.are_deterministic_algorithms_enabled(), L.get_deterministic_debug_mode()]
        try:
            L.use_deterministic_algorithms(True, warn_only=True)
            out += [L.are_deterministic_algorithms_enabled(), L.is_deterministic_algorithms_warn_only_enabled(),
                    L.get_deterministic_debug_mode()]
            L.set_deterministic_debug_mode("error")
            out += [L.get_deterministic_debug_mode(), L.is_deterministic_algorithms_warn_only_enabled()]
            with pytest.raises(TypeError):
                L.use_deterministic_algorithms("yes")
        finally:
            L.use_deterministic_algorithms(False)
        L.set_default_device("cpu")
        L.set_default_device(None)
        out += [str(L.get_default_device()), L.typename(L.ones(2)), L.typename(L.ones(2, dtype=L.long)),
                L.typename(3), L.typename(L.nn.Linear(1, 1)), L.cpu.is_available(), L.cpu.device_count(),
                L.cpu.current_device(), L.cpu.synchronize(), L.compiler.is_compiling(),
                L.compiler.is_dynamo_compiling()]
        f = L.compiler.disable(lambda x: x + 1)
        out.append(f(1))
        return out
    assert run(ember) == run(torch)
