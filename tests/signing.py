"""A test's own Ed25519 signing key for checkpoints (TANDEM_SIGNING_KEY_FILE), in a file of its own."""

from __future__ import annotations

from pathlib import Path

from shared.tamper import write_signing_key


def signing_key_file(directory: Path) -> str:
    path = directory / "signing-key.pem"
    write_signing_key(path)
    return str(path)
