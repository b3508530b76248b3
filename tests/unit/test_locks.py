"""The lock files (requirements/*.lock, written by `make lock`) agree with pyproject.toml.

What `make install` and the image install is the lock, never pyproject.toml's ranges: a dependency added to or
changed in pyproject.toml without `make lock` would be missing (or the wrong version) everywhere it counts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PROJECT = "tandem"
# What the locks are compiled for (the Makefile's `lock` rule): CPython 3.11 on linux x86_64.
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    hashes: int
    line: str


def parse_lock(text: str) -> dict[str, Pin]:
    """`name==version --hash=… …` entries (backslash-continued lines joined, comments dropped)."""
    logical = re.sub(r"\\\n", " ", text)
    pins: dict[str, Pin] = {}
    for raw in logical.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()
        if not line or line.startswith("#"):
            continue
        requirement = line.split(" --hash", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(\s*;.*)?", requirement)
        if match is None:
            raise ValueError(f"not an exact pin (name==version): {requirement!r}")
        name = canonicalize_name(match.group(1))
        if name in pins:
            raise ValueError(f"{name} is pinned twice")
        pins[name] = Pin(name, Version(match.group(2)), len(HASH.findall(line)), requirement)
    return pins


def expand(requirements: list[str], extras: dict[str, list[str]]) -> list[Requirement]:
    """The requirements, with the project's own extras (`tandem[local]`) replaced by what they list."""
    out: list[Requirement] = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        if canonicalize_name(req.name) == PROJECT:
            for extra in sorted(req.extras):
                if extra not in extras:
                    raise ValueError(f"{text!r} names an extra pyproject.toml does not define: {extra}")
                out.extend(expand(extras[extra], extras))
        else:
            out.append(req)
    return out


def disagreements(requirements: list[Requirement], pins: dict[str, Pin]) -> list[str]:
    problems = []
    for req in requirements:
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req}: the lock pins {pin.version}, outside that range")
    return problems


def unbounded(requirements: list[str]) -> list[str]:
    """Requirements without an upper bound (`<`, `<=`, `==`, `~=`): a new major release would be taken as is."""
    return [
        text
        for text in requirements
        if canonicalize_name(Requirement(text).name) != PROJECT
        and not any(spec.operator in ("<", "<=", "==", "~=", "===") for spec in Requirement(text).specifier)
    ]


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def lock(name: str) -> dict[str, Pin]:
    path = LOCKS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make lock`")
    return parse_lock(path.read_text())


def project() -> tuple[list[str], dict[str, list[str]], list[str]]:
    data = pyproject()
    section = data["project"]
    assert isinstance(section, dict)
    build = data["build-system"]
    assert isinstance(build, dict)
    return list(section["dependencies"]), dict(section.get("optional-dependencies", {})), list(build["requires"])


# -- the repository's files ------------------------------------------------------------------------------------


def test_the_runtime_lock_pins_every_dependency_inside_its_range() -> None:
    dependencies, extras, _ = project()
    assert disagreements(expand(dependencies, extras), lock("runtime.lock")) == [], "run `make lock`"


def test_the_dev_lock_pins_the_dependencies_and_the_dev_extra_inside_their_ranges() -> None:
    dependencies, extras, _ = project()
    wanted = expand([*dependencies, *extras["dev"]], extras)
    assert disagreements(wanted, lock("dev.lock")) == [], "run `make lock`"


def test_the_build_lock_pins_the_build_system_requirements() -> None:
    _, _, build = project()
    assert disagreements(expand(build, {}), lock("build.lock")) == [], "run `make lock`"


def test_the_runtime_and_dev_locks_agree_on_every_version_they_share() -> None:
    runtime, dev = lock("runtime.lock"), lock("dev.lock")
    assert {
        n: (p.version, dev[n].version) for n, p in runtime.items() if n in dev and dev[n].version != p.version
    } == {}
    assert sorted(set(runtime) - set(dev)) == []


@pytest.mark.parametrize("name", ["build.lock", "runtime.lock", "dev.lock"])
def test_every_pin_has_a_hash(name: str) -> None:
    assert [pin.line for pin in lock(name).values() if pin.hashes == 0] == []


def test_the_local_extra_stays_out_of_the_runtime_lock() -> None:
    """The image installs runtime.lock: the embedded Postgres and broker are for `tandem up` and tests only."""
    dependencies, extras, _ = project()
    runtime_names = {canonicalize_name(r.name) for r in expand(dependencies, extras)}
    local_only = {canonicalize_name(r.name) for r in expand(extras["local"], extras)} - runtime_names
    assert local_only, "the local extra is expected to list the embedded Postgres and broker"
    assert sorted(local_only & set(lock("runtime.lock"))) == []


def test_every_dependency_has_an_upper_bound() -> None:
    dependencies, extras, build = project()
    listed = [*dependencies, *build, *(text for group in extras.values() for text in group)]
    assert unbounded(listed) == []


# -- the checks themselves -------------------------------------------------------------------------------------

SAMPLE = """\
# This file was autogenerated by uv via the following command:
#    make lock
anyio==4.16.0 \\
    --hash=sha256:{a} \\
    --hash=sha256:{b}
    # via httpx
uvloop==0.23.0 ; sys_platform != 'win32' \\
    --hash=sha256:{a}
""".format(a="a" * 64, b="b" * 64)


def test_a_lock_is_read_with_its_versions_and_hashes() -> None:
    pins = parse_lock(SAMPLE)
    assert {n: (str(p.version), p.hashes) for n, p in pins.items()} == {"anyio": ("4.16.0", 2), "uvloop": ("0.23.0", 1)}


def test_a_pin_without_a_hash_is_counted_as_such() -> None:
    assert parse_lock("idna==3.21\n")["idna"].hashes == 0


@pytest.mark.parametrize("line", ["idna>=3.4", "idna", "-e ."])
def test_a_line_that_is_not_an_exact_pin_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="not an exact pin"):
        parse_lock(line + "\n")


def test_a_missing_or_out_of_range_pin_is_named() -> None:
    pins = parse_lock("idna==3.21 --hash=sha256:" + "a" * 64 + "\n")
    problems = disagreements([Requirement("idna>=3.4,<3.10"), Requirement("anyio>=4")], pins)
    assert problems == ["idna<3.10,>=3.4: the lock pins 3.21, outside that range", "anyio>=4 is not in the lock"]


def test_the_projects_own_extras_are_expanded_and_foreign_markers_dropped() -> None:
    extras = {"local": ["flask>=3.1,<4"], "dev": ["tandem[local]", "pytest>=8,<10"]}
    wanted = expand(["uvloop>=0.19; sys_platform != 'linux'", "tandem[dev]"], extras)
    assert [str(r) for r in wanted] == ["flask<4,>=3.1", "pytest<10,>=8"]


def test_a_requirement_without_an_upper_bound_is_named() -> None:
    assert unbounded(["idna>=3.4", "rich>=13,<16", "tandem[local]", "x~=1.2", "y==1.0"]) == ["idna>=3.4"]
