"""docs/operations.md lists exactly what the providers implement (regenerate with the script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_generator() -> object:
    path = ROOT / "scripts" / "gen_operations_doc.py"
    spec = importlib.util.spec_from_file_location("gen_operations_doc", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_operations_page_is_current() -> None:
    generator = _load_generator()
    expected = generator.render()  # type: ignore[attr-defined]
    actual = (ROOT / "docs" / "operations.md").read_text()
    assert actual == expected, "docs/operations.md is stale: run `python scripts/gen_operations_doc.py`"


def test_every_command_has_a_guide() -> None:
    from podid.cli.main import COMMANDS

    guide = ROOT / "docs" / "commands.md"
    if not guide.exists():
        raise AssertionError("docs/commands.md is missing")
    text = guide.read_text()
    missing = [name for name in COMMANDS if f"podid {name}" not in text]
    assert missing == []
