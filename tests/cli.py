"""The `tandem` command line as a test runs it: `python -m services ...` from the checkout, in a subprocess,
against a service's broker namespace."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from shared.runtime import ServiceHost

ROOT = Path(__file__).resolve().parents[1]


def cli_env(bootstrap: str, host: ServiceHost, **extra: str) -> dict[str, str]:
    """This process's environment, pointed at the broker and the topic namespace of `host`."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TANDEM_TOPIC_NAMESPACE": host.topics.namespace,
        **extra,
    }


async def tandem(
    *args: str, env: dict[str, str], timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -m services ARGS` to its end (off the event loop); its output as text. It reads no local stack's
    settings (a developer's running `tandem up`) unless `env` names a stack file (TANDEM_STACK_FILE)."""
    env = {"TANDEM_STACK_FILE": "", **env}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
