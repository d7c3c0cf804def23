"""The multi-head attention fast-path switch. ember computes one path, but the switch still decides, as in
torch, whether ``TransformerEncoder`` in inference zeroes the outputs at padded positions."""

_fastpath_enabled = True


def get_fastpath_enabled() -> bool:
    """Whether the Transformer fast path (and its zeroed padding outputs) is on."""
    return _fastpath_enabled


def set_fastpath_enabled(value: bool) -> None:
    """Turn the Transformer fast path on or off."""
    global _fastpath_enabled
    _fastpath_enabled = bool(value)
