"""What the overlays and the base promise: replicas, disruption budgets, brokers and Postgres instances per
environment; pods locked down; a grace period that covers the graceful stop; an apply order by stage."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import CommonEnvironment
from tests.deploy.rendering import OVERLAYS, environment, of_kind, pod_spec, render, workloads

SIZES = {"dev": 1, "production": 3}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sizes(overlay: str) -> None:
    docs, n = render(overlay), SIZES[overlay]
    assert [d["spec"]["replicas"] for d in of_kind(docs, "Deployment")] == [n] * 3
    assert [c["spec"]["instances"] for c in of_kind(docs, "Cluster")] == [n] * 3
    assert [p["spec"]["replicas"] for p in of_kind(docs, "KafkaNodePool")] == [n]
    budgets = [p["spec"] for p in of_kind(docs, "PodDisruptionBudget")]
    assert len(budgets) == 3
    for b in budgets:
        if n == 3:
            assert (b.get("minAvailable"), b.get("maxUnavailable")) == (2, None)
        else:
            assert (b.get("minAvailable"), b.get("maxUnavailable")) == (None, 1)
    for pooler in of_kind(docs, "Pooler"):  # the relay and the projection listener use LISTEN
        assert pooler["spec"]["pgbouncer"]["poolMode"] == "session"
        assert pooler["spec"]["type"] == "rw"


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay: str) -> None:
    docs = render(overlay)
    for w in workloads(docs):
        name, spec = w["metadata"]["name"], pod_spec(w)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 65532, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp, f"{name}: no writable /tmp"
        assert "emptyDir" in tmp[0], name
        for c in _containers(w):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= c["resources"]["limits"].keys(), name
            assert {"mountPath": "/tmp", "name": "tmp"} in c["volumeMounts"], name
            assert c["image"].startswith("ghcr.io/tandem-project/tandem:"), f"{name}: no tag set"
    for sa in of_kind(docs, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (ingress,) = of_kind(docs, "Ingress")
    hosts = {r["host"] for r in ingress["spec"]["rules"]}
    assert hosts <= {h for t in ingress["spec"]["tls"] for h in t["hosts"]}, "a host without TLS"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_period_covers_the_graceful_stop(overlay: str) -> None:
    docs = render(overlay)
    for d in of_kind(docs, "Deployment"):
        (c,) = pod_spec(d)["containers"]
        common = CommonEnvironment.read(environment(docs, c))
        pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        send = float(environment(docs, c).get("NOTIFICATIONS_SEND_TIMEOUT", "15"))
        needed = pre_stop + common.TANDEM_PUBLISH_TIMEOUT_SECONDS + send
        assert pod_spec(d)["terminationGracePeriodSeconds"] >= needed, d["metadata"]["name"]
        spread = {t["topologyKey"] for t in pod_spec(d)["topologySpreadConstraints"]}
        assert spread == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_has_its_stage(overlay: str) -> None:
    """deploy/README.md applies by stage: platform, then migrate (the Jobs), then app; operations on demand."""
    expected = {
        "Deployment": "app",
        "Service": "app",
        "PodDisruptionBudget": "app",
        "Ingress": "app",
        "Job": {"migrate", "operations"},
        "CronJob": "operations",
    }
    for d in render(overlay):
        stage = d["metadata"].get("labels", {}).get("tandem.dev/stage")
        want = expected.get(d["kind"], "platform")
        assert stage in (want if isinstance(want, set) else {want}), f"{d['kind']} {d['metadata']['name']}: {stage}"
    operations = {
        w["kind"]: w for w in workloads(render(overlay)) if w["metadata"]["labels"]["tandem.dev/stage"] == "operations"
    }
    assert operations["Job"]["spec"]["suspend"] is True, "the replay Job is a template: it runs when an operator says"
    assert operations["CronJob"]["spec"]["suspend"] is False, "the audit runs every night"
