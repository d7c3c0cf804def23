"""ChainDataset and StackDataset: the same code under ember and torch 2.13.0."""
import pytest
import torch

import ember


class _Map:
    def __init__(self, lib, n, scale=1, batched=False):
        self.lib, self.n, self.scale = lib, n, scale
        if batched:
            self.__getitems__ = lambda idx: [i * 100 for i in idx]

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * self.scale


def _stream(lib, values):
    class Stream(lib.utils.data.IterableDataset):
        def __iter__(self):
            return iter(values)

        def __len__(self):
            return len(values)
    return Stream()


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_chain_dataset(lib):
    D = lib.utils.data
    chain = D.ChainDataset([_stream(lib, [1, 2]), _stream(lib, [3])])
    assert list(chain) == [1, 2, 3] and len(chain) == 3
    added = _stream(lib, [7]) + _stream(lib, [8, 9])
    assert type(added).__name__ == "ChainDataset" and list(added) == [7, 8, 9]
    bad = D.ChainDataset([_stream(lib, [1]), D.TensorDataset(lib.zeros(2))])
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(bad)
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        len(bad)
    batches = [b.tolist() for b in D.DataLoader(chain, batch_size=2)]
    assert batches == [[1, 2], [3]]


def _stack_run(lib):
    D = lib.utils.data
    a, b = _Map(lib, 4), _Map(lib, 4, scale=10, batched=True)
    tup, named = D.StackDataset(a, b), D.StackDataset(x=a, y=b)
    out = [len(tup), tup[2], named[3], tup.__getitems__([0, 3]), named.__getitems__([1])]
    loader = D.DataLoader(named, batch_size=3)
    out.append([{k: v.tolist() for k, v in batch.items()} for batch in loader])
    errors = []
    for call in (lambda: D.StackDataset(a, y=b), lambda: D.StackDataset(), lambda: D.StackDataset(a, _Map(lib, 3)),
                 lambda: D.StackDataset(x=a, y=_Map(lib, 5))):
        with pytest.raises(ValueError) as info:
            call()
        errors.append(str(info.value))
    short = _Map(lib, 4)
    short.__getitems__ = lambda idx: [0]
    with pytest.raises(ValueError) as info:
        D.StackDataset(a, short).__getitems__([1, 2])
    errors.append(str(info.value))
    return out, errors


def test_stack_dataset():
    assert _stack_run(ember) == _stack_run(torch)
