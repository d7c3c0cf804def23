"""ember.jit's eager annotations behave as torch.jit's do outside TorchScript; compiling raises NotImplementedError."""
import pytest
import torch

import ember


@pytest.mark.parametrize("lib", [torch, ember])
def test_annotations_leave_eager_code_as_written(lib):
    class M(lib.nn.Module):
        @lib.jit._overload_method  # noqa: F811
        def forward(self, x: int) -> int:  # noqa: F811
            pass

        def forward(self, x):  # noqa: F811
            return self.helper(x) + self.kept(x) + lib.jit.annotate(int, 1)

        @lib.jit.unused
        def helper(self, x):
            return x * 2

        @lib.jit.ignore
        def kept(self, x):
            return x + 10

        @lib.jit.export
        def other(self):
            return "other"

    m = M()
    assert (m(3), m.other(), lib.jit.is_scripting(), lib.jit.is_tracing()) == (20, "other", False, False)
    assert lib.jit.ignore(drop=True)(lambda s: len(s))("ab") == 2


def test_ignore_rejects_a_non_bool_as_torch():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="must be a bool or a function"):
            lib.jit.ignore(3)


def test_compiling_is_absent():
    with pytest.raises(NotImplementedError, match="torch.jit.script"):
        ember.jit.script(ember.nn.Linear(2, 2))
    with pytest.raises(NotImplementedError, match="torch.jit.load"):
        ember.jit.load("model.pt")
