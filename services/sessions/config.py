"""Sessions configuration: see shared.config for the variables (prefix SESSIONS_)."""

from __future__ import annotations

from typing import Any

from shared.config import ServiceSettings

SERVICE = "sessions"


def load_settings(**overrides: Any) -> ServiceSettings:
    return ServiceSettings.from_env(SERVICE, **overrides)
