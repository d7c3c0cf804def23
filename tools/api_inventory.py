"""Usage-weighted inventory of the PyTorch API that real programs touch, and ember's status for each name.

Two steps:

    python tools/api_inventory.py collect SRC_ROOT     # SRC_ROOT/<project>/**.py -> tools/api_inventory.json
    python tools/api_inventory.py report               # tools/api_inventory.json -> docs/api_coverage.md

``collect`` parses every ``.py`` file with ``ast`` (the sources are not kept: only counts per name and per
project). It follows ``import torch.nn as nn`` / ``from torch import nn`` / ``from torch.nn import functional
as F`` aliases, so ``F.relu`` counts as ``torch.nn.functional.relu``; a chain of attributes counts once, at
its longest torch name. Tensor methods are found by name (a call ``x.view(...)`` whose attribute is a
``torch.Tensor`` attribute and whose receiver is not a torch module); the receiver's type is not known, so
names shared with NumPy or Python (``mean``, ``sum``, ``sort``) count every receiver (``index`` and ``name``,
almost never a Tensor's, are left out). Keyword arguments are
recorded per callee as ``name(kw=)``.

``report`` resolves each name on ember and on the installed torch, and writes the table: implemented,
deliberately absent (ember raises NotImplementedError, with its message), or missing.
"""
from __future__ import annotations

import ast
import collections
import importlib
import inspect
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "tools" / "api_inventory.json"
REPORT = ROOT / "docs" / "api_coverage.md"
SOURCES = {  # project folder name -> where it came from (cited in the report)
    "pytorch+examples": "https://github.com/pytorch/examples",
    "karpathy+nanoGPT": "https://github.com/karpathy/nanoGPT",
    "karpathy+minGPT": "https://github.com/karpathy/minGPT",
    "karpathy+build-nanogpt": "https://github.com/karpathy/build-nanogpt",
    "karpathy+makemore": "https://github.com/karpathy/makemore",
    "yunjey+pytorch-tutorial": "https://github.com/yunjey/pytorch-tutorial",
    "kuangliu+pytorch-cifar": "https://github.com/kuangliu/pytorch-cifar",
    "eriklindernoren+PyTorch-GAN": "https://github.com/eriklindernoren/PyTorch-GAN",
    "lucidrains+vit-pytorch": "https://github.com/lucidrains/vit-pytorch",
    "jadore801120+attention-is-all-you-need-pytorch": "https://github.com/jadore801120/attention-is-all-you-need-pytorch",
    "facebookresearch+DiT": "https://github.com/facebookresearch/DiT",
}


# ---------------------------------------------------------------------------------------------- collect
class _Collector(ast.NodeVisitor):
    """Counts torch names, Tensor attributes and keyword arguments in one module."""

    def __init__(self, tensor_attrs: set[str]) -> None:
        self.alias: dict[str, str] = {}
        self.names: collections.Counter = collections.Counter()
        self.tensor_attrs = tensor_attrs

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name == "torch" or a.name.startswith("torch."):
                if a.asname:
                    self.alias[a.asname] = a.name
                else:
                    self.alias["torch"] = "torch"
                if a.name != "torch":
                    self.names[a.name] += 1

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        if node.level or not (mod == "torch" or mod.startswith("torch.")):
            return
        for a in node.names:
            if a.name == "*":
                continue
            full = f"{mod}.{a.name}"
            self.alias[a.asname or a.name] = full
            self.names[full] += 1

    def _resolve(self, node: ast.AST) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.alias:
            return ".".join([self.alias[node.id], *reversed(parts)])
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        full = self._resolve(node)
        if full is not None:
            self.names[full] += 1
            return  # the longest chain only: its prefixes are not separate uses
        if node.attr in self.tensor_attrs:
            self.names[f"Tensor.{node.attr}"] += 1
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        # a bare name bound by ``from torch... import X`` used in code (the import itself was counted once)
        if node.id in self.alias and self.alias[node.id].count(".") and isinstance(node.ctx, ast.Load):
            self.names[self.alias[node.id]] += 1

    def visit_Call(self, node: ast.Call) -> None:
        callee = self._resolve(node.func) if isinstance(node.func, (ast.Attribute, ast.Name)) else None
        if callee is None and isinstance(node.func, ast.Attribute) and node.func.attr in self.tensor_attrs:
            callee = f"Tensor.{node.func.attr}"
        if callee is not None:
            for kw in node.keywords:
                if kw.arg is not None:
                    self.names[f"{callee}({kw.arg}=)"] += 1
        self.generic_visit(node)


def collect(src_root: Path) -> dict:
    """Count names per project over SRC_ROOT/<project>/**.py."""
    import torch
    # ``.index``/``.name`` are first-class dims and named tensors on a Tensor, but list.index and obj.name in code
    tensor_attrs = {n for n in dir(torch.Tensor) if not n.startswith("_")} - {"index", "name"}
    per_name: dict[str, dict[str, int]] = collections.defaultdict(dict)
    files = collections.Counter()
    for project in sorted(p for p in src_root.iterdir() if p.is_dir()):
        counts = collections.Counter()
        for path in sorted(project.rglob("*.py")):
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except SyntaxError:
                continue  # Python 2 files in old examples
            c = _Collector(tensor_attrs)
            c.visit(tree)
            if c.alias:
                files[project.name] += 1
            counts.update(c.names)
        for name, n in counts.items():
            per_name[name][project.name] = n
    return {"projects": {p: {"source": SOURCES.get(p, ""), "files": files[p]} for p in sorted(files)},
            "names": {k: dict(sorted(v.items())) for k, v in sorted(per_name.items())}}


# ---------------------------------------------------------------------------------------------- resolve
def _lookup(lib, name: str):
    """The object ``name`` (``torch.nn.Linear``, ``Tensor.view``) names in ``lib``; raises what the lookup raises."""
    if name.startswith("Tensor."):
        return getattr(lib.Tensor, name.split(".", 1)[1])
    parts = name.split(".")[1:]
    obj, path = lib, lib.__name__
    for p in parts:
        path = f"{path}.{p}"
        try:
            obj = getattr(obj, p)
        except AttributeError:
            obj = importlib.import_module(path)  # a submodule not imported by its parent
    return obj


def _accepts(obj, kw: str) -> bool | None:
    """Whether ``obj`` takes keyword ``kw`` (None when its signature can't be read)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    return any(p.kind is p.VAR_KEYWORD or (p.name == kw and p.kind is not p.POSITIONAL_ONLY) for p in params)


def status(lib, name: str) -> tuple[str, str]:
    """(state, detail): state is 'ok', 'absent' (NotImplementedError) or 'missing' (any other error)."""
    base, kw = name, None
    if name.endswith("=)"):
        base, kw = name[:name.index("(")], name[name.index("(") + 1:-2]
    try:
        obj = _lookup(lib, base)
    except NotImplementedError as e:
        return "absent", f"NotImplementedError: {e}"
    except Exception as e:  # noqa: BLE001  (what a user would see is the point)
        return "missing", f"{type(e).__name__}"
    if getattr(obj, "_ember_absent", None):  # a stand-in that raises when called (ember._legacy.absent_function)
        return "absent", f"NotImplementedError: {obj._ember_absent}"
    if kw is not None and _accepts(obj, kw) is False:
        return "missing", f"no keyword {kw}="
    return "ok", ""


def report(inv: dict, out: Path = REPORT) -> list[str]:
    """Write the coverage table; return the names used by more than one project that ember lacks."""
    import ember
    import torch
    projects = inv["projects"]
    rows, gaps = [], []
    for name, per in inv["names"].items():
        if not (name.startswith("torch") or name.startswith("Tensor.")):
            continue
        t_state, _ = status(torch, name)
        if t_state != "ok":
            continue  # not (or no longer) torch 2.13's API: nothing to match
        e_state, detail = status(ember, name)
        n_proj = len(per)
        if e_state == "missing" and n_proj > 1:
            gaps.append(name)
        rows.append((name, sum(per.values()), n_proj, e_state, detail))
    rows.sort(key=lambda r: (-r[2], -r[1], r[0]))
    counts = collections.Counter(r[3] for r in rows)
    multi = [r for r in rows if r[2] > 1]
    lines = [
        "# API coverage: the PyTorch names real programs use, and ember's status",
        "",
        "Generated by `python tools/api_inventory.py report` from `tools/api_inventory.json` (counts made with "
        "`ast` over the projects below); each name is resolved on ember and on torch 2.13.0 when the report "
        "is written. Names torch 2.13 no longer has are left out. `Tensor.x` counts every `.x` attribute whose "
        "name is a `torch.Tensor` attribute, whatever the receiver; `name(kw=)` is a keyword argument.",
        "",
        "| project | files importing torch |",
        "|---|---|",
        *[f"| [{p.replace('+', '/')}]({v['source']}) | {v['files']} |" for p, v in projects.items()],
        "",
        f"{len(rows)} names: {counts['ok']} implemented, {counts['absent']} deliberately absent "
        f"(NotImplementedError), {counts['missing']} missing. Of the {len(multi)} names used by more than one "
        f"project, {sum(r[3] == 'ok' for r in multi)} are implemented, {sum(r[3] == 'absent' for r in multi)} "
        f"deliberately absent, {sum(r[3] == 'missing' for r in multi)} missing.",
        "",
        "| name | uses | projects | ember |",
        "|---|---|---|---|",
    ]
    for name, uses, n_proj, state, detail in rows:
        cell = {"ok": "implemented", "absent": f"absent: {detail}", "missing": f"**missing** ({detail})"}[state]
        lines.append(f"| `{name}` | {uses} | {n_proj} | {cell.replace('|', '/')} |")
    out.write_text("\n".join(lines) + "\n")
    return gaps


def main(argv: list[str]) -> int:
    if argv[:1] == ["collect"] and len(argv) == 2:
        INVENTORY.write_text(json.dumps(collect(Path(argv[1])), indent=0, sort_keys=True) + "\n")
        return 0
    if argv[:1] == ["report"]:
        gaps = report(json.loads(INVENTORY.read_text()))
        for g in gaps:
            print("missing, used by more than one project:", g)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
