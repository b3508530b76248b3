"""Environment variables read with pydantic-settings: a model per group of variables, its fields named exactly
as the variables are (case-sensitive), read from the process environment or from a given mapping (tests,
tools). A bad value becomes a ConfigError that names the variable and, unless it is a secret, the value."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

#: Words that make a variable's value a secret wherever it is shown (repr, errors, logs).
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DATABASE_URL", "KEY", "CREDENTIAL")
MASK = "**********"

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("tandem_environ", default=None)


class ConfigError(ValueError):
    """A setting is missing or bad; the message says which variable and why."""


def is_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


class Variables(Mapping[str, str]):
    """Raw variables (e.g. a service's own NOTIFICATIONS_* ones, prefix removed) whose repr masks the values of
    secret-looking names, so that printing the settings that carry them shows no password."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {k: MASK if is_secret(k) else v for k, v in self._values.items()}
        return f"Variables({shown!r})"


class _MappingSource(EnvSettingsSource):
    """The environment source, reading the mapping `Environment.read` was given (else os.environ)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        given = _ENVIRON.get()
        return parse_env_vars(
            os.environ if given is None else given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Environment(BaseSettings):
    """A group of variables; subclasses declare them as fields named like the variables."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, hide_input_in_errors=True)
    #: Fields whose value must never be shown (besides SecretStr ones).
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = env_settings.env_prefix if isinstance(env_settings, EnvSettingsSource) else ""
        return init_settings, _MappingSource(settings_cls, case_sensitive=True, env_prefix=prefix)

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None, prefix: str = "") -> Any:
        """The variables from `env` (None: the process environment), each name preceded by `prefix`."""
        token = _ENVIRON.set(env)
        try:
            return cls(_env_prefix=prefix)
        except ValidationError as exc:
            raise ConfigError("; ".join(cls._problem(e, prefix) for e in exc.errors())) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def _problem(cls, error: Any, prefix: str) -> str:
        cause = error.get("ctx", {}).get("error")
        why = str(cause) if cause is not None else error["msg"][:1].lower() + error["msg"][1:]
        if not error["loc"]:
            return why  # about several variables; the message names them
        field = str(error["loc"][0])
        name = prefix + field
        info = cls.model_fields.get(field)
        secret = field in cls.secret_fields or is_secret(name) or (info is not None and info.annotation is SecretStr)
        shown = repr(MASK) if secret else repr(error["input"])
        return f"{name}={shown} {why}" if cause is not None else f"{name}={shown}: {why}"
