"""ember.func.replace_all_batch_norm_modules_: the same code under ember and torch 2.13.0."""
import torch

import ember


def _run(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 1), lib.nn.BatchNorm2d(3),
                            lib.nn.Sequential(lib.nn.BatchNorm2d(3, track_running_stats=False)))
    out = lib.func.replace_all_batch_norm_modules_(net)
    x = lib.randn(4, 2, 2, 2)
    net.eval()  # without running statistics, eval normalises by the batch's own
    y = net(x)
    bn = net[1]
    return [out is net, bn.running_mean, bn.running_var, bn.num_batches_tracked, bn.track_running_stats,
            sorted(net.state_dict().keys()), y.detach().numpy().round(5).tolist()]


def test_replace_all_batch_norm_modules():
    assert _run(ember) == _run(torch)


def test_root_itself_is_replaced():
    for lib in (ember, torch):
        bn = lib.nn.BatchNorm1d(2)
        assert lib.func.replace_all_batch_norm_modules_(bn) is bn and bn.running_mean is None
