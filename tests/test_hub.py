"""ember.hub: the tqdm that scripts import from torch.hub iterates and takes set_postfix as torch's does
(the tqdm package's, or a silent stand-in without it); loading from the hub raises NotImplementedError."""
import importlib
import sys

import pytest
import torch

import ember
import ember.hub


def _drive(bar_cls):
    bar = bar_cls([3, 4, 5], desc="EPOCH", disable=True)
    seen = []
    for i, v in enumerate(bar):
        seen.append(v)
        bar.set_postfix({"Loss": "%6f" % (1.0 / (i + 1))})
    bar.close()
    return seen, len(bar)


def test_tqdm_iterates_as_torch_hub_tqdm():
    assert _drive(ember.hub.tqdm) == _drive(torch.hub.tqdm) == ([3, 4, 5], 3)


def test_tqdm_stand_in_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    try:
        fallback = importlib.reload(ember.hub)
        assert fallback.tqdm.__module__ == "ember.hub"
        assert _drive(fallback.tqdm) == ([3, 4, 5], 3)
        with fallback.tqdm(total=10) as bar:
            bar.update(4)
            assert bar.n == 4
    finally:
        monkeypatch.undo()
        importlib.reload(ember.hub)


def test_hub_loading_is_absent():
    with pytest.raises(NotImplementedError, match="torch.hub.load"):
        ember.hub.load("pytorch/vision", "resnet18")
