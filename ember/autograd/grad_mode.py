"""Grad modes: whether ops record the graph. Thread-local, as in torch."""
from __future__ import annotations

import functools
import inspect
import threading


class _State(threading.local):
    # grad: the grad mode the user set; enabled: whether ops record, which inference_mode turns off
    # whatever grad mode says (enable_grad inside it records nothing, as torch's)
    def __init__(self) -> None:
        self.enabled = self.grad = True
        self.inference = False

    def set(self, grad: bool, inference: bool) -> None:
        self.grad, self.inference = grad, inference
        self.enabled = grad and not inference


state = _State()


def is_grad_enabled() -> bool:
    """True in grad mode (inside ``inference_mode`` ops still record nothing)."""
    return state.grad


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return state.inference


class _Mode:
    """Base of the grad-mode switches: a context manager that is also a decorator (``@no_grad()``,
    or ``@no_grad`` without the call, as torch allows)."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]):  # @no_grad: decorate at once
            return cls()(args[0])
        return super().__new__(cls)

    def _new_state(self):
        raise NotImplementedError

    def __enter__(self):
        self._prev = (state.grad, state.inference)
        state.set(*self._new_state())
        return self

    def __exit__(self, *exc) -> None:
        state.set(*self._prev)

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def _wrap_generator(self, fn):
        # the mode holds while the generator runs, each time it resumes, and not while it is paused
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            send, value = gen.send, None
            while True:
                try:
                    with self.clone():
                        response = send(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    send, value = gen.send, (yield response)
                except GeneratorExit:
                    with self.clone():
                        gen.close()
                    raise
                except BaseException as exc:  # thrown into us: pass it on into the generator
                    send, value = gen.throw, exc
        return wrapper

    def _args(self):
        return ()

    def clone(self):
        return self.__class__(*self._args())


class no_grad(_Mode):
    """Disable graph recording: ``with ember.no_grad():`` or ``@ember.no_grad()``."""

    def _new_state(self):
        return False, state.inference


class enable_grad(_Mode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def _new_state(self):
        return True, state.inference


class set_grad_enabled(_Mode):
    """Set grad mode on or off; takes effect at once, and as a context manager restores on exit."""

    def __new__(cls, mode: bool):  # a bool, never the function to decorate
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = (state.grad, state.inference)
        state.set(self.mode, state.inference)

    def __call__(self, fn):
        state.set(*self._prev)  # used as a decorator: only calls of fn change the mode
        return super().__call__(fn)

    def _new_state(self):
        return self.mode, state.inference

    def _args(self):
        return (self.mode,)

    def __enter__(self):
        return self


class inference_mode(_Mode):
    """Like ``no_grad``, for code that will never need gradients. Tensors made in it are inference
    tensors: outside it they may not be modified in place, require grad, or be saved for backward."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def _new_state(self):
        return not self.mode, self.mode  # inference_mode(False) turns grad mode on, as torch's

    def _args(self):
        return (self.mode,)


_threads = threading.local()  # set_multithreading_enabled's setting, per thread as torch's


def is_multithreading_enabled() -> bool:
    """Whether backward may run on worker threads (ember's always runs on the calling thread: a setting only)."""
    return getattr(_threads, "enabled", True)


class set_multithreading_enabled(_Mode):
    """Allow or forbid multithreaded backward, at once; as a context manager it restores on exit. ember's
    backward runs on the calling thread either way."""

    def __new__(cls, mode: bool):  # a bool, never the function to decorate
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode, self.prev = mode, is_multithreading_enabled()
        _threads.enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        _threads.enabled = self.prev

    def _args(self):
        return (self.mode,)
