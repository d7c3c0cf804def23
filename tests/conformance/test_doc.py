"""docs/conformance.md is generated from torch's databases and the known-gaps lists and must be current."""
import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_conformance_doc_is_generated_from_the_gap_lists():
    gen = runpy.run_path(str(ROOT / "tools" / "gen_conformance_doc.py"))
    assert (ROOT / "docs" / "conformance.md").read_text() == gen["render"](), \
        "docs/conformance.md is stale: run python tools/gen_conformance_doc.py"
