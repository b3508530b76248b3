"""The CloudEvents 1.0 envelope every Tandem event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import EventPayload

P = TypeVar("P", bound=EventPayload)

DEFAULT_TENANT = "default"


class Envelope(BaseModel, Generic[P]):
    """A CloudEvent: context attributes, our extensions, and a typed payload in `data`.

    Extensions (CloudEvents names are lowercase alphanumerics): `tenant`, `schemaversion`,
    `correlationid` (the request or process that started a chain of events) and `causationid`
    (the id of the event or command that directly caused this one).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    type: str
    specversion: Literal["1.0"] = "1.0"
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: str = Field(min_length=1, max_length=100)
    schemaversion: int = Field(ge=1)
    correlationid: str
    causationid: str | None = None
    data: P

    @property
    def key(self) -> str:
        """The Kafka partition key: the aggregate this event belongs to."""
        return self.data.partition_key()

    @classmethod
    def new(
        cls,
        data: P,
        *,
        tenant: str = DEFAULT_TENANT,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        caused_by: Envelope[Any] | None = None,
        time: datetime | None = None,
        event_id: str | None = None,
    ) -> Envelope[P]:
        """Wrap a payload. `caused_by` carries correlation and causation over from a triggering event."""
        eid = event_id or str(uuid.uuid4())
        if caused_by is not None:
            correlation_id = correlation_id or caused_by.correlationid
            causation_id = causation_id or caused_by.id
            tenant = caused_by.tenant
        return cls(
            id=eid,
            source=data.SOURCE,
            type=data.TYPE,
            time=time or datetime.now(UTC),
            subject=data.subject(),
            tenant=tenant,
            schemaversion=data.VERSION,
            correlationid=correlation_id or eid,
            causationid=causation_id,
            data=data,
        )
