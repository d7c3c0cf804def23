"""Draw the backward graph of a tensor as Graphviz DOT text (rendered by the ``dot`` program when installed).

Colours follow the convention PyTorch users know from torchviz: the output tensors are
green, leaves (named from ``params``) light blue, backward ops grey, saved tensors orange.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .._tensor import Tensor
from ..autograd.function import AccumulateGrad


class ExecutableNotFound(RuntimeError):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""


class Digraph:
    """A DOT graph: ``.source`` is the text; ``render``/``save`` write it out."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, str, str]] = []   # (id, label, fillcolor)
        self.edges: list[tuple[str, str, str]] = []   # (tail, head, style)

    def node(self, name: str, label: str, fillcolor: str) -> None:
        """Add a box."""
        self.nodes.append((name, label, fillcolor))

    def edge(self, tail: str, head: str, style: str = "") -> None:
        """Add an arrow from ``tail`` to ``head``."""
        self.edges.append((tail, head, style))

    @property
    def source(self) -> str:
        lines = ["digraph {", '\tgraph [size="12,12"]',
                 "\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box "
                 "style=filled]"]
        for name, label, color in self.nodes:
            lines.append(f'\t{name} [label="{_escape(label)}" fillcolor={color}]')
        for tail, head, style in self.edges:
            lines.append(f"\t{tail} -> {head}" + (f" [style={style}]" if style else ""))
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.source

    def save(self, filename: str = "graph.gv", directory: str | None = None) -> str:
        """Write the DOT text to a file; returns its path."""
        path = os.path.join(directory, filename) if directory else filename
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        return path

    def render(self, filename: str = "graph.gv", directory: str | None = None, format: str = "svg",
               cleanup: bool = False) -> str:
        """Write the DOT text and run ``dot`` to make ``<filename>.<format>``; returns the image's path."""
        if format not in ("svg", "png", "pdf", "dot"):
            raise ValueError(f"render: unknown format {format!r} (expected 'svg', 'png', 'pdf' or 'dot')")
        exe = shutil.which("dot")
        if exe is None:
            raise ExecutableNotFound("render: failed to execute 'dot', make sure the Graphviz executables are on "
                                     "your system's PATH (or use .source / .save() to get the DOT text)")
        src = self.save(filename, directory)
        out = f"{src}.{format}"
        subprocess.run([exe, f"-T{format}", "-o", out, src], check=True, capture_output=True)
        if cleanup:
            os.remove(src)
        return out


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def make_dot(var, params: dict | None = None, show_attrs: bool = False, show_saved: bool = True,
             max_attr_chars: int = 50) -> Digraph:
    """The backward graph reaching ``var`` (a tensor or a sequence of them) as a ``Digraph``.

    Args:
        var: the output tensor(s) whose history to draw.
        params: ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) to label the leaves.
        show_saved: also draw what each op saved for backward (until backward frees it).
    """
    names = {id(t): n for n, t in (params or {}).items()}
    outputs = [var] if isinstance(var, Tensor) else list(var)
    dot = Digraph()
    seen = set()

    def leaf(t: Tensor) -> str:
        name = f"t{id(t)}"
        if name not in seen:
            seen.add(name)
            label = _shape(t.shape)
            if id(t) in names:
                label = f"{names[id(t)]}\n {label}"
            dot.node(name, label, "lightblue")
        return name

    def node_id(fn) -> str:
        if isinstance(fn, AccumulateGrad):
            return leaf(fn.variable)
        return f"n{id(fn)}"

    stack = []
    for i, out in enumerate(outputs):
        oid = f"o{id(out)}"
        dot.node(oid, _shape(out.shape), "darkolivegreen1")
        if out.grad_fn is not None:
            stack.append(out.grad_fn)
            dot.edge(node_id(out.grad_fn), oid)
        elif out.requires_grad:
            dot.edge(leaf(out), oid)
    # iterative walk: graphs can be deeper than Python's recursion limit
    while stack:
        fn = stack.pop()
        name = node_id(fn)
        if isinstance(fn, AccumulateGrad) or name in seen:
            continue
        seen.add(name)
        dot.node(name, fn.name(), "lightgrey")
        if show_saved:
            _saved(dot, fn, name)
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                dot.edge(node_id(nxt), name)
                stack.append(nxt)
    return dot


def _saved(dot: Digraph, fn, name: str) -> None:
    saved = list(fn._saved or ())
    if fn._out_data is not None:
        saved.append(fn._out_data)
    for k, s in enumerate(saved):
        data = s._data if isinstance(s, Tensor) else getattr(s, "data", s)
        if data is None or not hasattr(data, "shape"):
            continue
        sid = f"s{id(fn)}_{k}"
        label = "saved result" if k == len(fn._saved or ()) else f"saved {k}"
        dot.node(sid, f"{label}\n{_shape(data.shape)}", "orange")
        dot.edge(sid, name, "dotted")
