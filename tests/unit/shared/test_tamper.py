"""Tamper evidence's settings and signing key files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.config import ConfigError, ServiceSettings
from shared.production import production_mode
from shared.tamper import SigningKeyError, load_signing_key, write_signing_key

ENV = {"SESSIONS_DATABASE_URL": "postgresql://tandem@db.example/tandem_sessions"}


def test_the_settings_default_to_five_minutes_and_no_key() -> None:
    s = ServiceSettings.from_env("sessions", ENV)
    assert (s.checkpoint_seconds, s.signing_key_file) == (300.0, None)


def test_the_settings_are_read() -> None:
    env = {**ENV, "TANDEM_CHECKPOINT_SECONDS": "60", "TANDEM_SIGNING_KEY_FILE": "/etc/tandem/signing/key.pem"}
    s = ServiceSettings.from_env("sessions", env)
    assert (s.checkpoint_seconds, s.signing_key_file) == (60.0, "/etc/tandem/signing/key.pem")


@pytest.mark.parametrize("value", ["0", "-5", "often"])
def test_a_bad_checkpoint_interval_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError, match="TANDEM_CHECKPOINT_SECONDS"):
        ServiceSettings.from_env("sessions", {**ENV, "TANDEM_CHECKPOINT_SECONDS": value})


def test_production_mode_is_the_three_creation_settings_off() -> None:
    assert production_mode(False, False, False)
    assert not production_mode(True, False, False)
    assert not production_mode(False, True, False)
    assert not production_mode(False, False, True)


def test_a_new_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "stack" / "signing-key.pem"
    assert write_signing_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    first = path.read_bytes()
    assert not write_signing_key(path)
    assert path.read_bytes() == first
    load_signing_key(path)


def test_a_missing_or_bad_key_file_is_refused_naming_the_variable_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match=f"TANDEM_SIGNING_KEY_FILE: cannot read {tmp_path}/none"):
        load_signing_key(tmp_path / "none")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SigningKeyError, match=r"bad\.pem is not an unencrypted PEM private key"):
        load_signing_key(tmp_path / "bad.pem")
    rsa = tmp_path / "rsa.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    rsa.write_bytes(
        rsa_keys.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(SigningKeyError, match="is not an Ed25519 key"):
        load_signing_key(rsa)
