"""The services of the system, in one place: what the CLI, the local stack (`tandem up`), the topics, the
settings (ports, databases) and the contracts read. A new service is one more line here (and its package)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.events import directory, notifications, pairing, sessions

if TYPE_CHECKING:
    from shared.topics import Topics


@dataclass(frozen=True)
class Service:
    name: str
    #: The default HTTP port (PREFIX_HTTP_PORT overrides it).
    port: int
    #: The CloudEvents sources it publishes; each has its topic (Topics.for_source), which it owns.
    sources: tuple[str, ...]
    #: The topics it consumes, by their name in Topics ("pairing", "hr_inbound"); none: no consumer group.
    consumes: tuple[str, ...]

    @property
    def package(self) -> str:
        return f"services.{self.name}"

    @property
    def app(self) -> str:
        """The module with its SPEC, bootstrap() and main() (`python -m services.<name>` runs it)."""
        return f"{self.package}.app"

    @property
    def config(self) -> str:
        """The module with its load_settings()."""
        return f"{self.package}.config"

    @property
    def prefix(self) -> str:
        """Of its own environment variables: PAIRING_DATABASE_URL, PAIRING_HTTP_PORT, ..."""
        return self.name.upper() + "_"

    @property
    def database(self) -> str:
        """Its database on a server named by a bare DATABASE_URL."""
        return database_of(self.name)

    def consumed_topics(self, topics: Topics) -> list[str]:
        return [getattr(topics, name) for name in self.consumes]

    def owned_topics(self, topics: Topics) -> list[str]:
        return [topics.for_source(source) for source in self.sources]


SERVICES: tuple[Service, ...] = (
    # the pairing service also writes the employee directory's history
    Service("pairing", 8001, (pairing.SOURCE, directory.SOURCE), ("hr_inbound",)),
    Service("sessions", 8002, (sessions.SOURCE,), ("pairing", "sessions")),
    Service("notifications", 8003, (notifications.SOURCE,), ("pairing", "sessions")),
)
NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
#: Every consumer group of the system; each has a dead-letter topic.
CONSUMERS: list[str] = [s.name for s in SERVICES if s.consumes]


def service(name: str) -> Service:
    for s in SERVICES:
        if s.name == name:
            return s
    raise ValueError(f"unknown service {name!r}; choose one of {', '.join(NAMES)}")


def database_of(name: str) -> str:
    return f"tandem_{name}"


def default_port(name: str, otherwise: int = 8000) -> int:
    return next((s.port for s in SERVICES if s.name == name), otherwise)


def consumes(name: str) -> Callable[[Any], list[str]]:
    """A ServiceSpec's `consumes`: the topics the named service consumes, under the settings' topic names."""
    of = service(name)
    return lambda settings: of.consumed_topics(settings.topics)
