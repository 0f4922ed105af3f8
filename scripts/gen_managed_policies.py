"""Generate podid's AWS managed policy data from moto's Apache-2.0 data module.

Reads `moto/iam/aws_managed_policies.py` of the installed `moto` package (Apache License 2.0;
the version used is recorded in the output) and writes `src/podid/data/managed_policies.json.gz`:

    {"source": "moto <version> moto/iam/aws_managed_policies.py (Apache-2.0)",
     "policies": [[name, path, default_version_id, create_date, update_date, document_json], ...]}

`document_json` is the policy document as compact JSON text.
Run: `.venv/bin/python scripts/gen_managed_policies.py`.
"""

from __future__ import annotations

import gzip
import json
import sys
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "podid" / "data" / "managed_policies.json.gz"


def build() -> dict[str, object]:
    from moto.iam import aws_managed_policies  # the data module only; imported lazily

    data = json.loads(aws_managed_policies.aws_managed_policies_data)
    rows: list[list[str]] = []
    for name in sorted(data):
        item = data[name]
        rows.append(
            [
                name,
                str(item.get("Path", "/")),
                str(item.get("DefaultVersionId", "v1")),
                str(item.get("CreateDate", "")),
                str(item.get("UpdateDate", "")),
                json.dumps(item["Document"], separators=(",", ":")),
            ]
        )
    return {
        "source": f"moto {version('moto')} moto/iam/aws_managed_policies.py (Apache-2.0)",
        "policies": rows,
    }


def main() -> int:
    payload = json.dumps(build(), separators=(",", ":"), sort_keys=True).encode()
    # mtime=0 keeps the output byte-for-byte reproducible
    OUT.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
