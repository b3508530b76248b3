"""Re-extract the vendored CRD schemas: only the openAPIV3Schema of the versions the manifests use.

Run from a machine with clones of the three operator repositories (bare git directories are enough):
    python deploy/schemas/vendor.py STRIMZI_GIT CNPG_GIT PROMETHEUS_OPERATOR_GIT
The tags and paths are pinned below; README.md in this folder records the commits and the licence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
#: operator folder -> (tag, {kind: path in the repository}, version used)
SOURCES: dict[str, tuple[str, dict[str, str], str]] = {
    "strimzi": (
        "1.2.0",
        {
            "Kafka": "packaging/install/cluster-operator/040-Crd-kafka.yaml",
            "KafkaTopic": "packaging/install/cluster-operator/043-Crd-kafkatopic.yaml",
            "KafkaUser": "packaging/install/cluster-operator/044-Crd-kafkauser.yaml",
            "KafkaNodePool": "packaging/install/cluster-operator/045-Crd-kafkanodepool.yaml",
        },
        "v1",
    ),
    "cloudnative-pg": (
        "v1.30.0",
        {
            "Cluster": "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
            "Pooler": "config/crd/bases/postgresql.cnpg.io_poolers.yaml",
        },
        "v1",
    ),
    "prometheus-operator": (
        "v0.93.0",
        {
            "PodMonitor": "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
            "ServiceMonitor": "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "PrometheusRule": "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        },
        "v1",
    ),
}


def main(git_dirs: list[str]) -> None:
    for git_dir, (operator, (tag, kinds, version)) in zip(git_dirs, SOURCES.items(), strict=True):
        for kind, path in kinds.items():
            text = subprocess.run(
                ["git", f"--git-dir={git_dir}", "show", f"{tag}:{path}"], check=True, capture_output=True, text=True
            ).stdout
            crd = next(d for d in yaml.safe_load_all(text) if d and d.get("kind") == "CustomResourceDefinition")
            if crd["spec"]["names"]["kind"] != kind:
                raise SystemExit(f"{path} defines {crd['spec']['names']['kind']}, expected {kind}")
            (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
            out = HERE / operator / version / f"{kind}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            schema = served["schema"]["openAPIV3Schema"]
            out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            print(f"{out.relative_to(HERE)}: {crd['spec']['group']}/{version} from {tag}:{path}")


if __name__ == "__main__":
    main(sys.argv[1:])
