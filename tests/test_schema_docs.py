"""docs/configuration.md publishes the schemas of the files users write, rendered from their models:
the page and the models cannot differ (tests/schema_docs.py rewrites the section)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "schema_docs.py"


def _script():
    spec = importlib.util.spec_from_file_location("schema_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_published_schemas_are_the_models():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_every_format_and_every_key_is_on_the_page():
    docs = _script()
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert len(docs.FORMATS) == 8
    for _, _, path in docs.FORMATS:
        schema = docs.model(path).model_json_schema()
        for table in [schema, *schema.get("$defs", {}).values()]:
            assert f"**`{table['title']}`**" in page, table["title"]
            for key in table.get("properties", {}):
                assert f"| `{key}` |" in page, (table["title"], key)


def test_a_changed_model_is_caught(monkeypatch):
    docs = _script()
    render = docs.render
    monkeypatch.setattr(docs, "render", lambda: render().replace("integer from 1 to 256", "integer from 1 to 999"))
    assert docs.main(["--check"]) == 1
