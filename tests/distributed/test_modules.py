"""SyncBatchNorm and DataParallel in one process, against torch (the multi-rank behaviour is in test_distributed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def _model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8)))


def test_convert_sync_batchnorm_as_torch():
    e, t = _model(ember), _model(torch)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in e.state_dict().items()})
    es, ts = ember.nn.SyncBatchNorm.convert_sync_batchnorm(e), torch.nn.SyncBatchNorm.convert_sync_batchnorm(t)
    assert repr(es) == repr(ts)
    assert list(es.state_dict()) == list(ts.state_dict())
    assert es[1].weight is e[1].weight and es[1].running_mean is e[1].running_mean
    x = np.random.default_rng(0).normal(size=(4, 1, 4, 4)).astype(np.float32)
    for train in (True, False):  # without a process group it is BatchNorm, in training and evaluation
        es.train(train), ts.train(train)
        ex = ember.from_numpy(x).requires_grad_()
        tx = torch.from_numpy(x).requires_grad_()
        ey, ty = es(ex), ts(tx)
        np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
        (ey * ey).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (k, a), b in zip(es.state_dict().items(), ts.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_sync_batchnorm_rejects_1d_input_as_torch():
    with pytest.raises(ValueError) as mine:
        ember.nn.SyncBatchNorm(3)(ember.zeros(4))
    with pytest.raises(ValueError) as theirs:
        torch.nn.SyncBatchNorm(3)(torch.zeros(4))
    assert str(mine.value) == str(theirs.value)


def test_data_parallel_runs_the_module_as_torch_on_cpu():
    e = ember.nn.parallel.DataParallel(ember.nn.Linear(3, 2))
    t = torch.nn.parallel.DataParallel(torch.nn.Linear(3, 2))
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in e.state_dict().items()})
    assert list(e.state_dict()) == list(t.state_dict()) == ["module.weight", "module.bias"]
    assert e.device_ids == t.device_ids == []
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(e(ember.from_numpy(x)).detach().numpy(), t(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_ddp_needs_a_process_group():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        ember.nn.parallel.DistributedDataParallel(ember.nn.Linear(2, 2))
