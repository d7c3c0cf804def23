"""ember.futures against torch.futures: the same calls on both give the same values and exception classes."""
from __future__ import annotations

import pytest
import torch

import ember


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_then_chains_and_callbacks_run_at_completion(lib):
    f = lib.futures.Future()
    seen = []
    f.add_done_callback(lambda fut: seen.append(("cb", fut.value())))
    g = f.then(lambda fut: fut.value() * 10).then(lambda fut: fut.value() + 1)
    assert not f.done() and not g.done() and seen == []
    f.set_result(4)
    assert f.done() and g.done() and g.wait() == 41 and g.value() == 41
    assert seen == [("cb", 4)]
    f.add_done_callback(lambda fut: seen.append("late"))  # already complete: runs at once
    assert seen[-1] == "late"
    assert lib.futures.wait_all([f, g]) == [4, 41]
    assert [x.value() for x in lib.futures.collect_all([f, g]).wait()] == [4, 41]
    with pytest.raises(RuntimeError, match="marked completed once"):
        f.set_result(5)


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_errors_reach_wait(lib):
    h = lib.futures.Future()
    k = h.then(lambda fut: 1 / 0)
    h.set_result(1)
    with pytest.raises(RuntimeError, match="ZeroDivisionError: division by zero"):
        k.wait()
    e = lib.futures.Future()
    e.set_exception(ValueError("boom"))
    assert e.done()
    with pytest.raises(ValueError, match="boom"):
        e.wait()
    with pytest.raises(ValueError, match="boom"):
        lib.futures.wait_all([e])


def test_an_unfinished_future():
    # torch blocks for ever in wait() and raises an internal assert in value(); ember has no other thread
    # that could complete it, so both raise at once
    f = ember.futures.Future()
    with pytest.raises(RuntimeError, match="not completed"):
        f.value()
    with pytest.raises(RuntimeError, match="nothing will complete"):
        f.wait()
    with pytest.raises(TypeError):
        f.set_exception("not an exception")
