"""Nested tuples, lists and dicts of tensors (pytrees), flattened to a list and rebuilt."""
from __future__ import annotations


def flatten(tree) -> tuple[list, object]:
    """The leaves of ``tree`` in order, and a spec that ``unflatten`` rebuilds it from."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, spec = flatten(list(tree.values()))
        return leaves, (dict, (list(tree.keys()), spec))
    return [tree], None


def unflatten(leaves, spec):
    """The tree of ``spec`` with ``leaves`` in place of its leaves."""
    leaves = list(leaves)
    if spec is None:
        return leaves[0]
    kind, specs = spec
    if kind is dict:
        keys, sub = specs
        return dict(zip(keys, unflatten(leaves, sub)))
    items, i = [], 0
    for n, sub in specs:
        items.append(unflatten(leaves[i:i + n], sub))
        i += n
    if kind not in (tuple, list) and hasattr(kind, "_fields"):
        return kind(*items)  # a namedtuple
    return kind(items)


def tree_map(fn, tree):
    """``tree`` with ``fn`` applied to each leaf."""
    leaves, spec = flatten(tree)
    return unflatten([fn(x) for x in leaves], spec)
