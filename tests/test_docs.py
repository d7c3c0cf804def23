"""docs/ops.md is generated from the specification table and must be current."""
import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_ops_doc_is_generated_from_the_table():
    gen = runpy.run_path(str(ROOT / "tools" / "gen_ops_doc.py"))
    assert (ROOT / "docs" / "ops.md").read_text() == gen["render"](), \
        "docs/ops.md is stale: run python tools/gen_ops_doc.py"
