"""Events about the log itself: the signed checkpoints of each service's event chains (shared.chain, shared.tamper).

Every service publishes them, on a topic of their own (`<namespace>.audit.checkpoints`, keyed by service) that no
service consumes: they are for `tandem audit verify` and for an outside notary.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.events.base import EventPayload

SOURCE = "/tandem/audit"


class CheckpointSigned(EventPayload):
    """A service signed (Ed25519) the Merkle root over the heads of all its streams as of an outbox position.
    `signed` is exactly what the signature covers (shared.chain.checkpoint_message)."""

    TYPE: ClassVar[str] = "tandem.audit.CheckpointSigned"
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "service"

    service: str
    signed_at: str = Field(description="When it was signed (ISO 8601, UTC), as signed.")
    position: int = Field(ge=0, description="The outbox position it covers: every event at or below it.")
    events: int = Field(ge=0, description="Chained events up to the position.")
    streams: int = Field(ge=0, description="Streams (tenant, topic, key) with a chained event up to the position.")
    root: str = Field(description="The Merkle root over the streams' heads, hex.")
    signature: str = Field(description="Ed25519 signature of `signed`, hex.")
    public_key: str = Field(description="The signer's public key, PEM (SubjectPublicKeyInfo).")
    signed: str = Field(description="The exact bytes signed (UTF-8 JSON).")


AUDIT_EVENTS: tuple[type[EventPayload], ...] = (CheckpointSigned,)
