"""make_dot: the DOT text of a backward graph, checked against hand-counted nodes, edges and labels."""
import os
import re
import stat

import pytest

import ember
from ember.utils.graphviz import make_dot, ExecutableNotFound

NODE = re.compile(r'^\t(\w+) \[label="(.*)" fillcolor=(\w+)\]$')
EDGE = re.compile(r"^\t(\w+) -> (\w+)( \[style=dotted\])?$")


def parse(src):
    nodes, edges = {}, []
    lines = src.splitlines()
    assert lines[0] == "digraph {" and lines[-1] == "}"
    for line in lines[1:-1]:
        m = NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2), m.group(3))
            continue
        m = EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), bool(m.group(3))))
            continue
        assert line.startswith("\tgraph [") or line.startswith("\tnode ["), line
    return nodes, edges


def model():
    w = ember.ones(2, 3, requires_grad=True)
    b = ember.zeros(3, requires_grad=True)
    x = ember.ones(2, 3)
    return w, b, (w * x + b).exp().sum()


def by_color(nodes, color):
    return sorted(label for label, c in nodes.values() if c == color)


def test_structure_with_saved_tensors():
    w, b, y = model()
    nodes, edges = parse(make_dot(y, params={"w": w, "b": b}).source)
    # out; Sum, Exp, Add, Mul; leaves w, b; saved: Exp's result, Mul's x (w's multiplier)
    assert len(nodes) == 9
    assert by_color(nodes, "darkolivegreen1") == ["()"]
    assert by_color(nodes, "lightgrey") == ["AddBackward0", "ExpBackward0", "MulBackward0", "SumBackward0"]
    assert by_color(nodes, "lightblue") == ["b\\n (3)", "w\\n (2, 3)"]
    assert by_color(nodes, "orange") == ["saved 1\\n(2, 3)", "saved result\\n(2, 3)"]
    solid = {(nodes[a][0], nodes[b][0]) for a, b, dotted in edges if not dotted}
    assert len([e for e in edges if not e[2]]) == 6
    assert solid == {("SumBackward0", "()"), ("ExpBackward0", "SumBackward0"), ("AddBackward0", "ExpBackward0"),
                     ("MulBackward0", "AddBackward0"), ("b\\n (3)", "AddBackward0"),
                     ("w\\n (2, 3)", "MulBackward0")}
    dotted = {(nodes[a][0], nodes[b][0]) for a, b, d in edges if d}
    assert dotted == {("saved result\\n(2, 3)", "ExpBackward0"), ("saved 1\\n(2, 3)", "MulBackward0")}


def test_without_saved_and_without_names():
    _, _, y = model()
    nodes, edges = parse(make_dot(y, show_saved=False).source)
    assert len(nodes) == 7 and len(edges) == 6
    assert by_color(nodes, "lightblue") == ["(2, 3)", "(3)"]
    assert by_color(nodes, "orange") == []


def test_saved_tensors_gone_after_backward():
    _, _, y = model()
    y.backward()
    nodes, _ = parse(make_dot(y).source)
    assert by_color(nodes, "orange") == []


def test_shared_leaf_and_shared_node_drawn_once():
    x = ember.ones(4, requires_grad=True)
    h = x * x       # two edges from the same leaf
    y = (h + h + x).sum()
    nodes, edges = parse(make_dot(y, params={"x": x}, show_saved=False).source)
    labels = [label for label, _ in nodes.values()]
    assert labels.count("x\\n (4)") == 1 and labels.count("MulBackward0") == 1
    assert sorted(labels) == sorted(["()", "SumBackward0", "AddBackward0", "AddBackward0", "MulBackward0",
                                     "x\\n (4)"])
    # Mul <- x twice (2); first Add <- Mul twice (2); second Add <- first Add, x (2); Sum <- Add; out <- Sum
    assert len(edges) == 8


def test_several_outputs():
    x = ember.ones(3, requires_grad=True)
    a, b = x * 2, ember.exp(x)
    nodes, edges = parse(make_dot((a, b), show_saved=False).source)
    assert by_color(nodes, "darkolivegreen1") == ["(3)", "(3)"]
    assert by_color(nodes, "lightblue") == ["(3)"]
    assert len(edges) == 4


def test_deep_graph_is_walked_iteratively():
    x = ember.ones(1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    nodes, edges = parse(make_dot(y, show_saved=False).source)
    assert len(nodes) == 5002 and len(edges) == 5001


def test_save_writes_dot_text(tmp_path):
    _, _, y = model()
    g = make_dot(y)
    path = g.save(str(tmp_path / "g.gv"))
    with open(path) as f:
        assert f.read() == g.source


def test_render_without_dot_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no 'dot'
    _, _, y = model()
    with pytest.raises(ExecutableNotFound, match="Graphviz"):
        make_dot(y).render(str(tmp_path / "g"), format="svg")
    assert issubclass(ExecutableNotFound, RuntimeError)


def test_render_calls_dot(monkeypatch, tmp_path):
    fake = tmp_path / "dot"
    # a stand-in 'dot' that records its arguments and writes the -o file
    fake.write_text('#!/bin/sh\necho "$@" > "$0.args"\nwhile [ "$1" != "-o" ]; do shift; done\necho img > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    _, _, y = model()
    out = make_dot(y).render(str(tmp_path / "g"), format="png")
    assert out == str(tmp_path / "g") + ".png"
    assert open(out).read() == "img\n"
    assert open(str(fake) + ".args").read().split() == ["-Tpng", "-o", out, str(tmp_path / "g")]
    with pytest.raises(ValueError, match="unknown format"):
        make_dot(y).render(str(tmp_path / "g"), format="bmp")
