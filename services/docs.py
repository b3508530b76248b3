"""Tables in the README that are generated from the code, so they cannot drift: who may call each route
(the access matrices) and which Kafka ACLs each service's principal needs (from what it publishes and
consumes). `tandem contracts write` rewrites them between their markers; a test fails when they differ."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from services.contracts import SOURCES, SPECS
from shared import access, registry
from shared.config import ServiceSettings
from shared.topics import Topics

README = Path(__file__).resolve().parents[1] / "README.md"
#: The service that serves the audit (GET /audit/{subject}): it reads the whole log.
AUDIT_READER = "pairing"
MATRICES = {s.name: importlib.import_module(f"{s.package}.api.access").MATRIX for s in registry.SERVICES}


def access_table() -> str:
    lines = ["| service | route | who may call it | note |", "|---|---|---|---|"]
    for service, matrix in MATRICES.items():
        lines.append(access.markdown(service, matrix))
    return "\n".join(lines)


def acl_table() -> str:
    """Per service principal: Write on the topics of what it publishes (and its dead-letter topic), Read on
    what it consumes and on its consumer group. Names with the default namespace `tandem`."""
    topics = Topics()
    lines = [
        "| principal (KafkaUser) | Write (Describe) | Read (Describe) | consumer group (Read) |",
        "|---|---|---|---|",
    ]
    for spec in SPECS:
        settings = ServiceSettings(service=spec.name, database_url="postgresql://unused/unused", topics=topics)
        writes = [topics.for_source(s) for s in SOURCES[spec.name]]
        reads = spec.consumes(settings)
        if spec.name == AUDIT_READER:  # GET /audit reads every event topic (by assignment, no group)
            reads = list(dict.fromkeys([*reads, *topics.event_topics()]))
        if reads:
            writes.append(topics.dead_letter(spec.name))
        group = f"{topics.namespace}.{spec.name}" if reads else "-"
        lines.append(
            f"| `tandem-{spec.name}` | {', '.join(f'`{t}`' for t in writes)} | "
            f"{', '.join(f'`{t}`' for t in reads) or '-'} | {f'`{group}`' if reads else group} |"
        )
    lines.append("| `tandem-operator` (replay, audit, topic check) | - | every event topic | - (reads by assignment) |")
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
