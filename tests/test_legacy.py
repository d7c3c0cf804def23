"""Legacy constructors and CUDA-era helpers behave as torch's on the CPU."""
import numpy as np
import pytest
import torch

import ember
from ember.utils.checkpoint import checkpoint, checkpoint_sequential


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
                                  "ByteTensor"])
def test_typed_constructors_match_torch(name):
    e, t = getattr(ember, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert getattr(ember, name)(2, 3).shape == (2, 3)
    assert isinstance(e, getattr(ember, name)) and not isinstance(ember.ones(1, dtype=ember.float16),
                                                                  getattr(ember, name))


def test_compile_autocast_gradscaler_checkpoint_pass_through():
    lin = ember.nn.Linear(3, 2)
    assert ember.compile(lin) is lin and ember.compile()(lin) is lin
    scaler = ember.amp.GradScaler()
    x = ember.tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    with ember.autocast("cpu", dtype=ember.float16, enabled=False):  # its casts: tests/test_bfloat16.py
        loss = checkpoint(lambda t: (lin(t) ** 2).sum(), x, use_reentrant=False)
    scaler.scale(loss).backward()
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)
    w0, b0, xv = lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy(), x.detach().numpy()
    scaler.step(opt)
    scaler.update()
    # hand-derived: d/dW sum((x W^T + b)^2) = 2 (x W^T + b)^T x
    expected = w0 - 0.1 * 2 * (xv @ w0.T + b0).T @ xv
    np.testing.assert_allclose(lin.weight.detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (xv @ w0.T + b0) @ w0, rtol=1e-6)
    seq = ember.nn.Sequential(ember.nn.Linear(3, 3), ember.nn.Tanh())
    np.testing.assert_allclose(checkpoint_sequential(seq, 2, x).detach().numpy(), seq(x).detach().numpy())


def test_absent_names_are_absent_in_ember_and_present_in_torch():
    """Every name ember lists as missing raises its NotImplementedError on access, and torch has it."""
    import importlib

    from ember._legacy import ABSENT
    for module, names in ABSENT.items():
        ours = importlib.import_module(module)
        theirs = importlib.import_module(module.replace("ember", "torch", 1))
        for name in names:
            assert hasattr(theirs, name) or importlib.util.find_spec(f"{theirs.__name__}.{name}"), (module, name)
            with pytest.raises(NotImplementedError, match=name):
                try:
                    getattr(ours, name)
                except AttributeError:  # a submodule: the import names it
                    importlib.import_module(f"{module}.{name}")


def test_norm_class_hierarchy_as_torch():
    """Code that picks out batch-norm layers by class (freezing them, update_bn) must not take instance norm."""
    for lib in (torch, ember):
        bn = lib.nn.modules.batchnorm
        assert not isinstance(lib.nn.InstanceNorm2d(3), bn._BatchNorm)
        assert isinstance(lib.nn.InstanceNorm2d(3), bn._NormBase)
        assert isinstance(lib.nn.BatchNorm1d(3), bn._BatchNorm) and isinstance(lib.nn.SyncBatchNorm(3), bn._BatchNorm)
