"""checkov finds no failed check in any rendered overlay; every skip is an annotation on the resource it
concerns, with its reason (`checkov.io/skip<n>: CKV_...=why`). checkov runs from its own environment
(.venv-tools, `make tools`), as its pins conflict with ours."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.rendering import OVERLAYS, ROOT, render

CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"


def test_no_failed_checks(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed: run `make tools` (it creates {CHECKOV})")
    for overlay in OVERLAYS:
        (tmp_path / overlay).mkdir()
        (tmp_path / overlay / "rendered.yaml").write_text(yaml.safe_dump_all(render(overlay)))
    result = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary = reports[0]["summary"]
    failed = [
        f"{f['check_id']} {f['resource']}: {f['check_name']}" for r in reports for f in r["results"]["failed_checks"]
    ]
    assert summary["passed"] > 0, summary
    assert summary["parsing_errors"] == 0, summary
    assert not failed, "\n".join(failed)
    for r in reports:
        for skipped in r["results"]["skipped_checks"]:
            reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
            assert reason not in ("", "No comment provided"), f"{skipped['check_id']} skipped without a reason"
