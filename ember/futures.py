"""Futures, as torch.futures: a value that some asynchronous work (an MPI collective) will deliver.

ember runs on one thread, so nothing completes a Future behind the caller's back: a Future made by
``Work.get_future()`` completes when it is waited for or found done (``done()`` tests the
collective), and a Future made by hand completes when ``set_result`` is called. Callbacks added
with ``then``/``add_done_callback`` run when the Future completes, as torch's.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Future", "collect_all", "wait_all"]


class _Then:
    """The source of ``parent.then(callback)``'s Future: done with the parent, valued by the callback."""

    def __init__(self, parent: Future, callback: Callable) -> None:
        self.parent, self.callback = parent, callback

    def is_completed(self) -> bool:
        return self.parent.done()

    def wait(self) -> None:
        self.parent._drive(block=True)

    def result(self) -> Any:
        try:
            return self.callback(self.parent)
        except Exception as e:  # torch wraps a callback's error, naming it
            raise RuntimeError(f"Got the following error when running the callback: {type(e).__name__}: {e}") from e


class _All:
    """The source of ``collect_all(futures)``: done when every future is, valued by the list of them."""

    def __init__(self, futures: list) -> None:
        self.futures = list(futures)

    def is_completed(self) -> bool:
        return all(f.done() for f in self.futures)

    def wait(self) -> None:
        for f in self.futures:
            f._drive(block=True)

    def result(self) -> list:
        return self.futures


class Future(Generic[T]):
    """The result of asynchronous work: ``wait()`` for it, chain work on it with ``then``."""

    def __init__(self, *, devices=None) -> None:
        self._done, self._value, self._error = False, None, None
        self._callbacks: list[Callable] = []
        self._source = None  # what completes it: a Work, or _Then/_All (duck-typed: is_completed, wait, result)

    @classmethod
    def _of(cls, source) -> Future:
        fut = cls()
        fut._source = source
        return fut

    def _drive(self, block: bool) -> None:
        """Complete from the source if it is done (or, blocking, once it is)."""
        src = self._source
        if self._done or src is None:
            return
        self._source = None  # a call back into this Future while the source is tested leaves the work to this one
        if not block and not src.is_completed():
            self._source = src
            return
        try:
            src.wait()
            value = src.result()
        except Exception as e:
            self.set_exception(e)
            return
        self.set_result(value)

    def done(self) -> bool:
        """Whether the Future has a value (or an error) by now."""
        self._drive(block=False)
        return self._done

    def wait(self) -> T:
        """Block until the value is there and return it (raises the error the Future holds)."""
        self._drive(block=True)
        if not self._done:
            raise RuntimeError("Future.wait(): nothing will complete this Future (no work behind it and "
                               "set_result was never called); ember runs on one thread, so waiting would hang")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self) -> T:
        """The value of a completed Future (raises its error; a RuntimeError if it is not completed)."""
        if not self.done():
            raise RuntimeError("Future.value() called on a Future that is not completed yet; call wait()")
        if self._error is not None:
            raise self._error
        return self._value

    def then(self, callback: Callable[[Future[T]], Any]) -> Future:
        """A new Future holding ``callback(self)``, run once this one completes."""
        child = Future._of(_Then(self, callback))
        self.add_done_callback(lambda _: child._drive(block=False))
        return child

    def add_done_callback(self, callback: Callable[[Future[T]], None]) -> None:
        """Run ``callback(self)`` when the Future completes (now, if it already has)."""
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def set_result(self, result: T) -> None:
        """Complete the Future with ``result`` and run its callbacks."""
        self._complete(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete the Future with an error, raised by ``wait()``/``value()``."""
        if not isinstance(result, BaseException):
            raise TypeError(f"Future.set_exception() expects an exception, got {type(result).__name__}")
        self._complete(None, result)

    def _complete(self, value, error) -> None:
        if self._done:
            raise RuntimeError("Attempting to mark a completed Future as complete again. Note that a Future can "
                               "only be marked completed once.")
        self._done, self._value, self._error, self._source = True, value, error, None
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def __repr__(self) -> str:
        return f"<ember.futures.Future ({'done' if self._done else 'pending'})>"


def collect_all(futures: list[Future]) -> Future[list[Future]]:
    """A Future completed, with the list of ``futures``, once every one of them is."""
    return Future._of(_All(futures))


def wait_all(futures: list[Future]) -> list:
    """Wait for every future and return their values (raises the first error met)."""
    return [f.wait() for f in collect_all(futures).wait()]
