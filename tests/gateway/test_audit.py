"""The audit log writes one JSON line per record and keeps recent records."""

from __future__ import annotations

import json
from pathlib import Path

from podid.gateway.audit import AuditLog


def test_records_are_json_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", keep=2)
    for i in range(3):
        log.record({"eventName": f"Op{i}", "n": i})
    assert [r["n"] for r in log.recent] == [1, 2]
    log.close()
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert [json.loads(line)["eventName"] for line in lines] == ["Op0", "Op1", "Op2"]


def test_memory_only_log_keeps_nothing_on_disk(tmp_path: Path) -> None:
    log = AuditLog(None, keep=1)
    log.record({"a": 1})
    log.close()
    assert log.recent == [{"a": 1}]
    assert list(tmp_path.iterdir()) == []
