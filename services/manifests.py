"""Kubernetes manifests generated from the code, so that they cannot drift: the Strimzi KafkaTopic of every
declared topic (shared/topics.py) and the KafkaUser of every principal with the least-privilege ACLs derived
from what each service publishes and consumes (shared/registry.py). `tandem contracts write` writes them into
deploy/components/strimzi/; `tandem contracts check` and a unit test fail when they differ.

Principals:
- `tandem-<service>`: Write on the topics of what it publishes and on its dead-letter topic; Read on what it
  consumes, on its own topics (the broker guard reads back the last record it wrote) and, for the audit reader,
  on every event topic; Read on its consumer group; Describe and DescribeConfigs on every declared topic (the
  broker guard compares them with the declared ones). No Create: production declares topics to the cluster.
- `tandem-operator` (replay, audit, topic check, `tandem dlq redrive`, `tandem status`): Read, Describe and
  DescribeConfigs on every declared topic (it reads by assignment, so no group of its own); Write on every topic a
  service consumes (a redrive re-publishes a dead letter to the topic it came from); Describe on every service's
  consumer group (`tandem status` reads the groups' committed offsets to show their lag).
- `tandem-hr-integration` (the HR platform's producer): Write on the HR inbound topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import registry
from shared.topics import Topics

ROOT = Path(__file__).resolve().parents[1]
STRIMZI_DIR = ROOT / "deploy" / "components" / "strimzi"
#: The Strimzi Kafka cluster's name (the `strimzi.io/cluster` label of its topics and users).
KAFKA_CLUSTER = "tandem"
#: The service that serves the audit (GET /audit/{subject}): it reads the whole log.
AUDIT_READER = "pairing"
#: Production values; the dev overlay patches both to 1 (one broker).
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2
HEADER = "# Generated from the code by `tandem contracts write` (services/manifests.py); do not edit.\n"


@dataclass(frozen=True)
class Principal:
    name: str
    note: str
    write: tuple[str, ...]
    read: tuple[str, ...]
    #: Describe and DescribeConfigs (every declared topic for the services and the operator).
    describe: tuple[str, ...]
    group: str | None
    #: Consumer groups it may only Describe (read committed offsets of): the operator's `tandem status`.
    describe_groups: tuple[str, ...] = ()


def _unique(*names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for group in names for n in group))


def principals(topics: Topics | None = None) -> list[Principal]:
    topics = topics or Topics()
    declared = topics.all_topics(registry.CONSUMERS)
    result = []
    for s in registry.SERVICES:
        owned = s.owned_topics(topics)
        reads = list(s.consumed_topics(topics))
        if s.name == AUDIT_READER:  # GET /audit reads every event topic (by assignment, no group)
            reads = [*reads, *topics.event_topics()]
        # every service writes its own data keys to the key topic and mirrors everyone's (shared.personal), and
        # publishes its signed checkpoints on the one checkpoints topic (shared.tamper)
        write = _unique(owned, [topics.keys, topics.checkpoints], [topics.dead_letter(s.name)] if s.consumes else [])
        result.append(
            Principal(
                name=f"tandem-{s.name}",
                note=f"the {s.name} service",
                write=write,
                read=_unique(reads, owned, [topics.keys, topics.checkpoints]),
                describe=tuple(declared),
                group=f"{topics.namespace}.{s.name}" if s.consumes else None,
            )
        )
    result.append(
        Principal(
            name="tandem-operator",
            note="replay, audit, topic check, dlq redrive, status",
            write=_unique(*(s.consumed_topics(topics) for s in registry.SERVICES)),
            read=tuple(declared),
            describe=tuple(declared),
            group=None,
            describe_groups=tuple(f"{topics.namespace}.{s.name}" for s in registry.SERVICES if s.consumes),
        )
    )
    result.append(
        Principal(
            name="tandem-hr-integration",
            note="the HR platform's producer",
            write=(topics.hr_inbound,),
            read=(),
            describe=(topics.hr_inbound,),
            group=None,
        )
    )
    return result


def acls(principal: Principal) -> list[dict[str, Any]]:
    """Strimzi `simple` authorization ACLs, one per resource (operations merged)."""
    by_topic: dict[str, list[str]] = {}
    for topic in _unique(principal.write, principal.read, principal.describe):
        ops = []
        if topic in principal.read:
            ops.append("Read")
        if topic in principal.write:
            ops.append("Write")
        ops.append("Describe")
        if topic in principal.describe and principal.name != "tandem-hr-integration":
            ops.append("DescribeConfigs")
        by_topic[topic] = ops
    rules: list[dict[str, Any]] = [
        {"resource": {"type": "topic", "name": topic, "patternType": "literal"}, "operations": ops}
        for topic, ops in by_topic.items()
    ]
    if principal.group:
        rules.append(
            {"resource": {"type": "group", "name": principal.group, "patternType": "literal"}, "operations": ["Read"]}
        )
    rules += [
        {"resource": {"type": "group", "name": group, "patternType": "literal"}, "operations": ["Describe"]}
        for group in principal.describe_groups
    ]
    return rules


def _metadata(name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {
            "strimzi.io/cluster": KAFKA_CLUSTER,
            "app.kubernetes.io/part-of": "tandem",
            "app.kubernetes.io/component": component,
            "tandem.dev/stage": "platform",
        },
    }


def kafka_topics(topics: Topics | None = None) -> list[dict[str, Any]]:
    topics = topics or Topics(replication_factor=REPLICAS)
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": _metadata(name.replace(".", "-"), "kafka-topic"),
            "spec": {
                "topicName": name,
                "partitions": topics.partitions,
                "replicas": topics.replication_factor,
                "config": {**topics.configs_for(name), "min.insync.replicas": MIN_INSYNC_REPLICAS},
            },
        }
        for name in topics.all_topics(registry.CONSUMERS)
    ]


def kafka_users(topics: Topics | None = None) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaUser",
            "metadata": {
                **_metadata(p.name, "kafka-user"),
                "annotations": {"tandem.dev/purpose": p.note},
            },
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {"type": "simple", "acls": acls(p)},
            },
        }
        for p in principals(topics)
    ]


def _yaml(documents: list[dict[str, Any]]) -> str:
    import yaml  # a dev dependency: only `tandem contracts write/check` writes these files

    return HEADER + "".join("---\n" + yaml.safe_dump(d, sort_keys=False, width=120) for d in documents)


def expected() -> dict[Path, str]:
    """The generated files and their content."""
    return {
        STRIMZI_DIR / "topics.yaml": _yaml(kafka_topics()),
        STRIMZI_DIR / "users.yaml": _yaml(kafka_users()),
    }


def differences() -> list[str]:
    return [
        f"differs: {path.relative_to(ROOT)} (run `tandem contracts write`)"
        for path, text in expected().items()
        if not path.exists() or path.read_text() != text
    ]


def write() -> list[str]:
    """Write the generated files that differ; returns their paths."""
    changed = []
    for path, text in expected().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(str(path.relative_to(ROOT)))
    return changed
