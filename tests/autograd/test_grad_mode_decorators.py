"""Grad modes used as decorators, on functions and generators, with and without the call, as torch's."""
import threading

import pytest
import torch

import ember


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_set_grad_enabled_as_a_decorator_leaves_the_mode_alone_until_called(lib):
    @lib.set_grad_enabled(False)
    def inside():
        return lib.is_grad_enabled()

    assert lib.is_grad_enabled()  # decorating changed nothing
    assert inside() is False
    assert lib.is_grad_enabled()


def test_set_grad_enabled_still_takes_effect_at_once_as_a_call():
    modes = []
    for lib in (ember, torch):
        lib.set_grad_enabled(False)
        modes.append(lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        modes.append(lib.is_grad_enabled())
    assert modes == [False, True, False, True]


def _decorated_generator_trace(lib, deco):
    @deco
    def gen(x):
        got = yield lib.is_grad_enabled(), (x * 2).requires_grad
        yield lib.is_grad_enabled(), got
        try:
            yield "waiting"
        except KeyError:
            yield lib.is_grad_enabled(), "caught"
        return "done"

    x = lib.ones(2, requires_grad=True)
    g = gen(x)
    trace = [next(g), lib.is_grad_enabled(), g.send("sent"), lib.is_grad_enabled(), next(g), g.throw(KeyError("k"))]
    with pytest.raises(StopIteration) as stop:
        next(g)
    trace.append(stop.value.value)
    return trace


@pytest.mark.parametrize("mode", ["no_grad()", "no_grad", "enable_grad()", "set_grad_enabled(False)",
                                  "inference_mode()"])
def test_decorated_generator_runs_in_the_mode_each_time_it_resumes(mode):
    traces = []
    for lib in (ember, torch):
        deco = eval(f"lib.{mode}", {"lib": lib})
        if mode.startswith("enable_grad"):
            with lib.no_grad():
                traces.append(_decorated_generator_trace(lib, deco))
        else:
            traces.append(_decorated_generator_trace(lib, deco))
    assert traces[0] == traces[1]


def test_generator_closed_early_closes_inside_the_mode():
    seen = []
    for lib in (ember, torch):
        @lib.no_grad()
        def gen():
            try:
                yield 1
            finally:
                seen.append(lib.is_grad_enabled())
        g = gen()
        next(g)
        g.close()
        seen.append(lib.is_grad_enabled())
    assert seen == [False, True, False, True]


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "inference_mode"])
def test_mode_used_as_a_decorator_without_parentheses(name):
    results = []
    for lib in (ember, torch):
        @getattr(lib, name)
        def f(x):
            """Doc."""
            return lib.is_grad_enabled(), lib.is_inference_mode_enabled(), (x * 2).requires_grad

        with lib.no_grad():
            under_no_grad = f(lib.ones(1, requires_grad=True))
        results.append((f(lib.ones(1, requires_grad=True)), under_no_grad, f.__name__, f.__doc__,
                        lib.is_grad_enabled()))
    assert results[0] == results[1]


def test_decorator_leaves_other_threads_alone():
    for lib in (ember, torch):
        seen = []

        def worker():
            @lib.set_grad_enabled(False)
            def f():
                return lib.is_grad_enabled()
            seen.append((lib.is_grad_enabled(), f(), lib.is_grad_enabled()))

        t = threading.Thread(target=worker)
        t.start()
        t.join(timeout=30)
        assert not t.is_alive()
        assert seen == [(True, False, True)] and lib.is_grad_enabled()
