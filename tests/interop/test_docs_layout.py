"""docs/ARCHITECTURE.md names every file of core/src, so that a reader finds
each file's place in the layers (a new file fails here until it is named)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_architecture_names_every_core_file():
    with open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")) as f:
        doc = f.read()
    files = sorted(os.listdir(os.path.join(ROOT, "core", "src")))
    assert files
    missing = [name for name in files
               if f"core/src/{name}`" not in doc and f"`{name}`" not in doc]
    assert missing == []
