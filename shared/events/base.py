"""Base class for event payloads: every payload names its stable type string and schema version."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """The `data` of a CloudEvent.

    `TYPE` is a stable string (never a Python import path), `VERSION` the current schema version,
    `SOURCE` the producing service. `subject()` names the aggregate the event is about and
    `partition_key()` the Kafka key that keeps this aggregate's events in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    SOURCE: ClassVar[str]
    #: Field holding the aggregate id; subclasses set it.
    SUBJECT_FIELD: ClassVar[str]
    #: Field holding the partition key; defaults to the subject.
    KEY_FIELD: ClassVar[str | None] = None
    #: True where the payload carries personal data (names, e-mail). Kept to as few types as possible.
    PERSONAL_DATA: ClassVar[bool] = False
    #: Personal fields, written encrypted under a data key of their scope (shared.personal): path -> scope, where the
    #: scope is `identity:<field>`, `pair:<field>` or `text:<field>` and <field> holds the scope's id (in a list
    #: item for a path like `proposals[].rationale`). Ids stay clear: they keep the trail joinable after an erasure.
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {}
    #: Fields only their author and HR of the tenant may read (the audit and exports redact them for anyone else).
    CONFIDENTIAL_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: True where the payload is its subject's whole record (a profile): the audit's timeline shows what
    #: changed from the subject's previous record.
    WHOLE_RECORD: ClassVar[bool] = False

    def subject(self) -> str:
        return str(getattr(self, self.SUBJECT_FIELD))

    def partition_key(self) -> str:
        return str(getattr(self, self.KEY_FIELD or self.SUBJECT_FIELD))
