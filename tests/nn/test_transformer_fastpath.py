"""TransformerEncoder's inference fast path against torch 2.13.0: where torch runs nested tensors (eval, no
grad, a left-aligned key padding mask, the layer conditions) the padded positions come out as zeros (before
the final norm); everywhere else the plain computation."""
import warnings

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def _pair(heads=2, norm_first=False, activation="relu", enable_nested_tensor=True):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
            8, heads, 16, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation), 2,
            norm=torch.nn.LayerNorm(8), enable_nested_tensor=enable_nested_tensor)
        e = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(
            8, heads, 16, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation), 2,
            norm=ember.nn.LayerNorm(8), enable_nested_tensor=enable_nested_tensor)
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return e.eval(), t.eval()


LEFT = [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
NOT_LEFT = [[0, 1, 0, 1, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]


@pytest.mark.parametrize("kw", [dict(), dict(activation="gelu"), dict(heads=1), dict(norm_first=True),
                                dict(enable_nested_tensor=False)])
@pytest.mark.parametrize("mask", [LEFT, NOT_LEFT])
@pytest.mark.parametrize("float_mask", [False, True])
def test_padded_outputs_as_torch(kw, mask, float_mask):
    e, t = _pair(**kw)
    x = np.random.default_rng(0).standard_normal((3, 5, 8)).astype(np.float32)
    m = np.array(mask, bool)
    if float_mask:
        m = np.where(m, -np.inf, 0.0).astype(np.float32)
    with torch.no_grad():
        to = t(torch.tensor(x), src_key_padding_mask=torch.tensor(m))
    with ember.no_grad():
        eo = e(ember.tensor(x), src_key_padding_mask=ember.tensor(m))
    assert_close(eo, to, atol=1e-5, rtol=1e-4)
    # with grad recording on (weights require grad) torch takes the plain path
    assert_close(e(ember.tensor(x), src_key_padding_mask=ember.tensor(m)),
                 t(torch.tensor(x), src_key_padding_mask=torch.tensor(m)), atol=1e-5, rtol=1e-4)


def test_fastpath_switch_and_flags():
    e, t = _pair()
    assert e.use_nested_tensor == t.use_nested_tensor
    assert e.layers[0].activation_relu_or_gelu == t.layers[0].activation_relu_or_gelu
    x = np.random.default_rng(1).standard_normal((3, 5, 8)).astype(np.float32)
    m = np.array(LEFT, bool)
    for enabled in (False, True):
        torch.backends.mha.set_fastpath_enabled(enabled)
        ember.backends.mha.set_fastpath_enabled(enabled)
        try:
            with torch.no_grad():
                to = t(torch.tensor(x), src_key_padding_mask=torch.tensor(m))
            with ember.no_grad():
                eo = e(ember.tensor(x), src_key_padding_mask=ember.tensor(m))
        finally:
            torch.backends.mha.set_fastpath_enabled(True)
            ember.backends.mha.set_fastpath_enabled(True)
        assert_close(eo, to, atol=1e-5, rtol=1e-4)
    with pytest.warns(UserWarning, match="num_heads is odd"):
        ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(8, 1, batch_first=True), 1)
