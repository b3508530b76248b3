"""Tables in the README that are generated from the code, so they cannot drift: who may call each route
(the access matrices) and which Kafka ACLs each service's principal needs (from what it publishes and
consumes). `tandem contracts write` rewrites them between their markers; a test fails when they differ."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from services.manifests import principals
from shared import access, registry

README = Path(__file__).resolve().parents[1] / "README.md"
MATRICES = {s.name: importlib.import_module(f"{s.package}.api.access").MATRIX for s in registry.SERVICES}


def access_table() -> str:
    lines = ["| service | route | who may call it | note |", "|---|---|---|---|"]
    for service, matrix in MATRICES.items():
        lines.append(access.markdown(service, matrix))
    return "\n".join(lines)


def acl_table() -> str:
    """The KafkaUser principals and their ACLs (services/manifests.py derives them from what each service
    publishes and consumes; deploy/components/strimzi/users.yaml is generated from the same). Names with the
    default namespace `tandem`."""
    lines = [
        "| principal (KafkaUser) | Write (Describe) | Read (Describe) | consumer group (Read) |",
        "|---|---|---|---|",
    ]
    for p in principals():
        name = f"`{p.name}`" if p.name.removeprefix("tandem-") in registry.NAMES else f"`{p.name}` ({p.note})"
        lines.append(
            f"| {name} | {', '.join(f'`{t}`' for t in p.write) or '-'} | {', '.join(f'`{t}`' for t in p.read) or '-'} "
            f"| {f'`{p.group}`' if p.group else '- (reads by assignment)' if p.read else '-'} |"
        )
    lines.append("")
    lines.append(
        "Each service and the operator also have Describe and DescribeConfigs on every declared topic: the broker "
        "guard (and `tandem topics check`) compare them with the declared ones. Nobody may create topics. The "
        "operator may Describe every consumer group (`tandem status` reads their committed offsets), and writes only "
        "to put a dead letter back where it came from (`tandem dlq redrive`)."
    )
    return "\n".join(lines)


SECTIONS = {"access-matrix": access_table, "kafka-acls": acl_table}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", re.S)


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> markers")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(3), text)
    return text


def write() -> bool:
    """Rewrite the README's generated tables; True when something changed."""
    text = README.read_text()
    new = render(text)
    if new != text:
        README.write_text(new)
    return new != text
