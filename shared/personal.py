"""Personal data in events: field-level encryption under per-subject data keys (crypto-shredding).

The log is the audit trail and is kept forever, so the personal data in it is written encrypted, and erasing a
person destroys the keys instead of rewriting the log. See README ("Personal data: where the keys live").

- Each event class names its personal fields (`EventPayload.PERSONAL_FIELDS`), each with a key *scope*:
  `identity:<field>` (who the person is: names, e-mail; one key per employee), `pair:<field>` (what is said about a
  pair, such as the rationale that names both; destroyed when either person is erased) and `text:<field>` (free
  text people wrote in a programme; destroyed on erasure, and by retention when the programme's text expires).
  `<field>` names the payload field holding the scope's id (in a list item, for paths like `proposals[].rationale`).
- Writing an event (shared.outbox.append) replaces each such value by
  `{"enc": 1, "k": <key id>, "ct": <base64 of nonce || AES-256-GCM ciphertext>}` (plus `"t": "l"` for a list), with
  the event id and the field's path as associated data: a ciphertext cannot be moved to another event or field. The
  hash chain and the outbox hold the ciphertext; the pydantic payloads every handler sees hold plain values.
- A data key is 32 random bytes, stored only wrapped by the key-encryption key (KEK) of a `Kms` (here AES key wrap,
  RFC 3394, with a KEK from the file `TANDEM_KEK_FILE`). The service that writes an event owns its keys: it keeps
  them in its own `data_keys` table and publishes each (wrapped) on the compacted topic `<namespace>.keys`, which
  every service mirrors into its own `data_keys` table (`KeyMirror`). So a service decrypts (live or in a replay)
  with its own database, the log and the KEK: never another service.
- Destroying a key (erasure, retention) wipes it from the table, deletes the wrapped copy from the outbox and
  publishes a destroyed marker under the same record key, which compaction keeps in place of the key. Decoding a
  field whose key is destroyed gives `PLACEHOLDER` (a list field: `[]`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import re
import secrets
import time
import weakref
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from shared.db import Conn
from shared.environment import ConfigError

if TYPE_CHECKING:
    from shared.events.base import EventPayload
    from shared.topics import Topics

log = logging.getLogger(__name__)

#: What a field whose key was destroyed reads as (in projections, audits, replays and exports).
PLACEHOLDER = "[erased]"
KINDS = ("identity", "pair", "text")
#: The outbox rows that carry keys to the key topic (not events: never chained, deleted when the key is destroyed).
KEY_RECORD_TYPE = "tandem.keys.DataKey"
_MARK = b'"enc"'
_KEY_IDS = re.compile(rb'"enc"\s*:\s*1\s*,\s*"k"\s*:\s*"((?:[^"\\]|\\.)*)"')
KEK_VARIABLE = "TANDEM_KEK_FILE"
KEK_PREVIOUS_VARIABLE = "TANDEM_KEK_PREVIOUS_FILES"


class KeyNotFound(LookupError):
    """An event names a data key this service does not have (yet): its mirror of the key topic is behind."""

    def __init__(self, key_ids: Collection[str]) -> None:
        self.key_ids = sorted(key_ids)
        super().__init__(f"data key(s) not known here yet: {', '.join(self.key_ids)}")


class KeysNeeded(RuntimeError):
    """An encrypted event was decoded without a keyring."""


class KekError(ConfigError):
    """The key-encryption key cannot be read or does not unwrap a data key."""


# --- the key-encryption key ---------------------------------------------------------------------------


class Kms(Protocol):
    """Wraps and unwraps data keys with a key-encryption key it never shows. A cloud KMS is another implementation
    of these three members; `key_id` names the KEK that wraps now (rows keep it, so a rotation can re-wrap)."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes: ...


#: The KEK outside production when TANDEM_KEK_FILE is not set (the local stack and tests set their own): anyone
#: with this source can unwrap what it wraps, so a service using it says so at start.
DEVELOPMENT_KEK = hashlib.sha256(b"tandem development key-encryption key: not for production").digest()


def kek_id_of(kek: bytes) -> str:
    return "local:" + hashlib.sha256(b"tandem-kek-id" + kek).hexdigest()[:16]


class LocalKms:
    """AES key wrap (RFC 3394) with KEKs held in this process: the current one wraps, every one given unwraps."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = (), *, development: bool = False) -> None:
        for kek in (current, *previous):
            if len(kek) != 32:
                raise KekError(f"a key-encryption key must be 32 bytes (AES-256), not {len(kek)}")
        self._current = current
        self._keys = {kek_id_of(k): k for k in (current, *previous)}
        self.development = development

    @property
    def key_id(self) -> str:
        return kek_id_of(self._current)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The current KEK's id first, then the rotated ones'."""
        return tuple(self._keys)

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._current, data_key)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        kek = self._keys.get(key_id)
        if kek is None:
            raise KekError(
                f"data key wrapped by KEK {key_id}, which this process does not have "
                f"(set {KEK_VARIABLE}, or {KEK_PREVIOUS_VARIABLE} for a rotated one)"
            )
        try:
            return aes_key_unwrap(kek, wrapped)
        except InvalidUnwrap:
            raise KekError(f"KEK {key_id} does not unwrap this data key (a wrong or corrupted key)") from None

    @classmethod
    def from_file(cls, path: str | Path, previous: Iterable[str | Path] = ()) -> LocalKms:
        return cls(read_kek(path), [read_kek(p) for p in previous])

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> LocalKms:
        env = os.environ if environ is None else environ
        path = env.get(KEK_VARIABLE, "").strip()
        previous = [p for p in env.get(KEK_PREVIOUS_VARIABLE, "").split(",") if p.strip()]
        if not path:
            return cls(DEVELOPMENT_KEK, [read_kek(p.strip()) for p in previous], development=True)
        return cls.from_file(path, [p.strip() for p in previous])


def read_kek(path: str | Path) -> bytes:
    """A KEK file holds 32 bytes, base64-encoded (one line; `tandem keys new-kek` writes one)."""
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise KekError(f"{KEK_VARIABLE}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        kek = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KekError(f"{KEK_VARIABLE}: {path} does not hold base64 (32 random bytes, base64-encoded)") from None
    if len(kek) != 32:
        raise KekError(f"{KEK_VARIABLE}: {path} holds {len(kek)} bytes; a KEK is 32 (AES-256)")
    return kek


def new_kek_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode() + "\n"


_KMS: Kms | None = None


def kms() -> Kms:
    """The process's KMS (from TANDEM_KEK_FILE, read once; `configure` replaces it)."""
    global _KMS
    if _KMS is None:
        local = LocalKms.from_environment()
        if local.development:
            log.warning(
                "personal data is encrypted under the built-in development KEK (%s is not set): fine for a laptop, "
                "never for real people's data",
                KEK_VARIABLE,
            )
        _KMS = local
    return _KMS


def use_kek_files(path: str, previous: Iterable[str] = ()) -> None:
    """Use the KEK of this file (and these rotated ones) from now on; the same KEKs again change nothing."""
    local = LocalKms.from_file(path, previous)
    if isinstance(_KMS, LocalKms) and not _KMS.development and _KMS.key_ids == local.key_ids:
        return
    configure(local)


def kek_message(service: str) -> str:
    return (
        f"{service}: {KEK_VARIABLE} is not set: in production mode (TANDEM_CREATE_DATABASE, TANDEM_MIGRATE_AT_START "
        "and TANDEM_CREATE_TOPICS off) personal data is never encrypted under the built-in development key. Mount "
        "the key-encryption key (32 random bytes, base64; `tandem keys new-kek FILE`) from a Secret and name its file"
    )


def configure(new: Kms | None) -> None:
    """Use this KMS from now on (None: read TANDEM_KEK_FILE again when next needed)."""
    global _KMS
    _KMS = new
    _UNWRAPPED.clear()


#: Unwrapped data keys by (kek id, wrapped bytes): the same wrapped bytes always unwrap to the same key.
_UNWRAPPED: dict[tuple[str, bytes], bytes] = {}


def _unwrap(wrapped: bytes, kek_id: str) -> bytes:
    cached = _UNWRAPPED.get((kek_id, wrapped))
    if cached is None:
        cached = kms().unwrap(wrapped, kek_id)
        if len(_UNWRAPPED) > 200_000:
            _UNWRAPPED.clear()
        _UNWRAPPED[(kek_id, wrapped)] = cached
    return cached


# --- which fields, under which key ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    kind: str
    scope_id: str
    programme_id: str | None

    def key_id(self, owner: str, tenant: str) -> str:
        return f"{owner}/{tenant}/{self.kind}/{self.scope_id}"


def parse_spec(spec: str) -> tuple[str, str]:
    kind, _, field = spec.partition(":")
    if kind not in KINDS or not field:
        raise ValueError(f"personal field scope {spec!r} must be '<{'|'.join(KINDS)}>:<field holding its id>'")
    return kind, field


def _paths(path: str) -> tuple[str, str | None]:
    """'proposals[].rationale' -> ('proposals', 'rationale'); 'email' -> ('email', None)."""
    head, sep, rest = path.partition("[].")
    return (head, rest) if sep else (path, None)


def fields_of(data: dict[str, Any], cls: type[EventPayload]) -> Iterator[tuple[str, dict[str, Any], str, Scope]]:
    """Each (AAD path, container, field name, scope) of a payload's personal fields that hold something."""
    programme = data.get("programme_id")
    for path, spec in cls.PERSONAL_FIELDS.items():
        kind, id_field = parse_spec(spec)
        head, item_field = _paths(path)
        if item_field is None:
            if data.get(head) not in (None, "", []):
                yield path, data, head, Scope(kind, str(data[id_field]), programme)
            continue
        for index, item in enumerate(data.get(head) or ()):
            if isinstance(item, dict) and item.get(item_field) not in (None, "", []):
                scope_id = item.get(id_field, data.get(id_field))
                yield f"{head}[{index}].{item_field}", item, item_field, Scope(kind, str(scope_id), programme)


def _aad(event_id: str, path: str) -> bytes:
    return f"{event_id}\x00{path}".encode()


def encrypt(value: Any, key: bytes, event_id: str, path: str, key_id: str) -> dict[str, Any]:
    nonce = secrets.token_bytes(12)
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = {
        "enc": 1,
        "k": key_id,
        "ct": base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, _aad(event_id, path))).decode(),
    }
    if isinstance(value, list):
        sealed["t"] = "l"
    return sealed


def erased_marker(value: Any, key_id: str) -> dict[str, Any]:
    """What a field is written as when its key is already destroyed (an event about an erased person)."""
    return {"enc": 1, "k": key_id, "erased": True, **({"t": "l"} if isinstance(value, list) else {})}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get("enc") == 1 and isinstance(value.get("k"), str)


def key_ids_in(values: Iterable[bytes | None]) -> set[str]:
    """The data keys named in raw record values (without parsing them)."""
    found: set[str] = set()
    for value in values:
        if value and _MARK in value:
            for m in _KEY_IDS.findall(value):
                try:
                    found.add(json.loads(b'"' + m + b'"'))
                except ValueError:  # not a key id a writer of ours made: decoding the record says what is wrong
                    continue
    return found


def might_be_sealed(value: bytes) -> bool:
    return _MARK in value


class KeyLookup(Protocol):
    def lookup(self, key_id: str) -> bytes | None:
        """The data key, or None when it was destroyed. Raises KeyNotFound when it is not known."""
        ...


def open_fields(data: dict[str, Any], cls: type[EventPayload], event_id: str, keys: KeyLookup) -> list[str]:
    """Decrypt a payload's sealed fields in place; returns the top-level fields that read as erased."""
    erased: list[str] = []
    missing: set[str] = set()
    for path in cls.PERSONAL_FIELDS:
        head, item_field = _paths(path)
        if item_field is None:
            places = [(path, data, head)]
        else:
            places = [
                (f"{head}[{i}].{item_field}", item, item_field)
                for i, item in enumerate(data.get(head) or ())
                if isinstance(item, dict)
            ]
        for aad_path, container, name in places:
            value: dict[str, Any] = container.get(name)  # type: ignore[assignment]
            if not is_sealed(value):
                continue
            try:
                key = None if value.get("erased") else keys.lookup(value["k"])
            except KeyNotFound:
                missing.add(value["k"])
                continue
            if key is None:
                container[name] = [] if value.get("t") == "l" else PLACEHOLDER
                if item_field is None:
                    erased.append(name)
                continue
            try:
                blob = base64.b64decode(value["ct"])
                plain = AESGCM(key).decrypt(blob[:12], blob[12:], _aad(event_id, aad_path))
            except Exception as exc:
                raise ValueError(
                    f"field {aad_path} does not decrypt with key {value['k']} ({type(exc).__name__})"
                ) from None
            container[name] = json.loads(plain)
    if missing:
        raise KeyNotFound(missing)
    return erased


# --- the keys of one service's database -------------------------------------------------------------------

#: Every live keyring of this process: a key destroyed here is forgotten by all of them at once.
_KEYRINGS: weakref.WeakSet[Keyring] = weakref.WeakSet()


class Keyring:
    """The data keys of one database, as far as this process has needed them.

    `prepare(conn, values)` loads the keys that raw record values name and that are not cached; `lookup` then
    answers synchronously (decoding is synchronous). Keys are re-read after `ttl` seconds, so a key another replica
    destroyed reads as destroyed here within that time; one destroyed in this process is forgotten at once."""

    def __init__(self, *, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._keys: dict[str, tuple[bytes | None, float]] = {}
        _KEYRINGS.add(self)

    def lookup(self, key_id: str) -> bytes | None:
        try:
            return self._keys[key_id][0]
        except KeyError:
            raise KeyNotFound([key_id]) from None

    def forget(self, key_ids: Iterable[str]) -> None:
        for key_id in key_ids:
            self._keys.pop(key_id, None)

    async def prepare(self, conn: Conn, values: Iterable[bytes | None]) -> None:
        await self.prepare_ids(conn, key_ids_in(values))

    async def prepare_ids(self, conn: Conn, key_ids: Collection[str]) -> list[str]:
        """Load these keys where they are not cached (or cached longer than `ttl`); returns those still unknown."""
        now = time.monotonic()
        wanted = [k for k in key_ids if k not in self._keys or now - self._keys[k][1] > self.ttl]
        if wanted:
            await self.load(conn, wanted)
        return [k for k in key_ids if k not in self._keys]

    async def load(self, conn: Conn, key_ids: Collection[str]) -> None:
        rows = await conn.fetch(
            "SELECT key_id, kek_id, wrapped, destroyed_at FROM data_keys WHERE key_id = ANY($1::text[])", list(key_ids)
        )
        now = time.monotonic()
        for row in rows:
            key = None if row["destroyed_at"] is not None else _unwrap(bytes(row["wrapped"]), row["kek_id"])
            self._keys[row["key_id"]] = (key, now)
        for key_id in set(key_ids) - {r["key_id"] for r in rows}:
            self._keys.pop(key_id, None)

    async def wait_for(self, conn: Conn, key_ids: Collection[str], *, timeout: float = 3.0) -> bool:
        """Wait (polling the table) until the mirror has brought these keys; False when it has not in time."""
        deadline = time.monotonic() + timeout
        while True:
            await self.load(conn, key_ids)
            if all(k in self._keys for k in key_ids):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)


def _forget_everywhere(key_ids: Iterable[str]) -> None:
    ids = list(key_ids)
    for ring in list(_KEYRINGS):
        ring.forget(ids)


class StaticKeys:
    """Keys given up front (the key topic read into memory by a tool, or a test): `lookup` only."""

    def __init__(self, keys: dict[str, bytes | None]) -> None:
        self.keys = keys

    def lookup(self, key_id: str) -> bytes | None:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyNotFound([key_id]) from None


# --- writing: sealing events, issuing and destroying keys ------------------------------------------------


def _key_record(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"), sort_keys=True)


async def seal(
    conn: Conn, topics: Topics, owner: str, tenant: str, event_id: str, cls: type[EventPayload], data: dict[str, Any]
) -> bool:
    """Encrypt the payload's personal fields in place (issuing keys it lacks, in the caller's transaction).
    Returns whether anything was sealed."""
    places = list(fields_of(data, cls))
    if not places:
        return False
    scopes = {s.key_id(owner, tenant): s for _, _, _, s in places}
    keys = await _issue(conn, topics, owner, tenant, scopes)
    for path, container, name, scope in places:
        key_id = scope.key_id(owner, tenant)
        key = keys[key_id]
        value = container[name]
        container[name] = erased_marker(value, key_id) if key is None else encrypt(value, key, event_id, path, key_id)
    return True


async def _issue(
    conn: Conn, topics: Topics, owner: str, tenant: str, scopes: dict[str, Scope]
) -> dict[str, bytes | None]:
    """The keys of these scopes (None: destroyed), creating the missing ones and publishing them (outbox)."""
    rows = await conn.fetch(
        "SELECT key_id, kek_id, wrapped, destroyed_at FROM data_keys WHERE key_id = ANY($1::text[])", list(scopes)
    )
    found: dict[str, bytes | None] = {
        r["key_id"]: None if r["destroyed_at"] is not None else _unwrap(bytes(r["wrapped"]), r["kek_id"]) for r in rows
    }
    for key_id in sorted(set(scopes) - set(found)):
        scope = scopes[key_id]
        key = secrets.token_bytes(32)
        box = kms()
        wrapped = box.wrap(key)
        inserted = await conn.fetchval(
            "INSERT INTO data_keys (key_id, tenant, owner, kind, scope_id, programme_id, kek_id, wrapped) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id) DO NOTHING RETURNING key_id",
            key_id, tenant, owner, scope.kind, scope.scope_id, scope.programme_id, box.key_id, wrapped,
        )  # fmt: skip
        if inserted is None:  # another transaction issued it first (and has committed: the insert waited for it)
            row = await conn.fetchrow("SELECT kek_id, wrapped, destroyed_at FROM data_keys WHERE key_id = $1", key_id)
            assert row is not None
            found[key_id] = None if row["destroyed_at"] is not None else _unwrap(bytes(row["wrapped"]), row["kek_id"])
            continue
        found[key_id] = key
        record = {
            "key_id": key_id, "tenant": tenant, "owner": owner, "kind": scope.kind, "scope_id": scope.scope_id,
            "programme_id": scope.programme_id, "kek_id": box.key_id, "wrapped": base64.b64encode(wrapped).decode(),
        }  # fmt: skip
        await _to_key_topic(conn, topics, tenant, key_id, f"datakey:{key_id}", record)
    return found


async def _to_key_topic(
    conn: Conn, topics: Topics, tenant: str, key_id: str, row_id: str, record: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO outbox (event_id, event_type, topic, key, subject, headers, payload, occurred_at, tenant) "
        "VALUES ($1, $2, $3, $4, $4, $5, $6, clock_timestamp(), $7) ON CONFLICT (event_id) DO NOTHING",
        row_id, KEY_RECORD_TYPE, topics.keys, key_id, [["ce_id", row_id], ["content-type", "application/json"]],
        _key_record(record), tenant,
    )  # fmt: skip


async def destroy_keys(
    conn: Conn,
    topics: Topics,
    *,
    service: str,
    tenant: str,
    reason: str,
    scope_ids: Collection[str] = (),
    programme_id: str | None = None,
    kinds: Collection[str] = KINDS,
) -> list[str]:
    """Destroy (in the caller's transaction) every key in this database of the tenant and kinds whose scope is one
    of `scope_ids`, or whose programme is `programme_id`: its own and the mirrored copies of others'. For the keys
    this service owns, the wrapped copies in its outbox are deleted and a destroyed marker goes to the key topic.
    Returns the ids destroyed (none the second time)."""
    bad = set(kinds) - set(KINDS)
    if bad:
        raise ValueError(f"unknown key kind(s) {sorted(bad)}; kinds are {', '.join(KINDS)}")
    rows = await conn.fetch(
        "UPDATE data_keys SET wrapped = NULL, destroyed_at = clock_timestamp(), destroyed_reason = $5, "
        "seq = nextval('data_keys_seq') WHERE tenant = $1 AND kind = ANY($2::text[]) AND destroyed_at IS NULL "
        "AND (scope_id = ANY($3::text[]) OR ($4::text IS NOT NULL AND programme_id = $4)) RETURNING key_id, owner",
        tenant, list(kinds), list(scope_ids), programme_id, reason,
    )  # fmt: skip
    ids = [r["key_id"] for r in rows]
    own = [r["key_id"] for r in rows if r["owner"] == service]
    if own:
        await conn.execute(
            "DELETE FROM outbox WHERE event_type = $1 AND topic = $2 AND key = ANY($3::text[])",
            KEY_RECORD_TYPE, topics.keys, own,
        )  # fmt: skip
        for key_id in own:
            marker = {"key_id": key_id, "tenant": tenant, "owner": service, "destroyed": True, "reason": reason}
            await _to_key_topic(conn, topics, tenant, key_id, f"datakey-destroyed:{key_id}", marker)
    _forget_everywhere(ids)
    return ids


async def rewrap(conn: Conn, topics: Topics, *, service: str) -> tuple[int, int]:
    """Re-wrap (in the caller's transaction) every live data key of this database with the KMS's current KEK; the
    keys this service owns go to the key topic again, so the other services' mirrors take the new wrapping too.
    The data is never touched: only the wrapping changes. Returns (re-wrapped, republished)."""
    box = kms()
    rows = await conn.fetch(
        "SELECT key_id, tenant, owner, kind, scope_id, programme_id, kek_id, wrapped FROM data_keys "
        "WHERE destroyed_at IS NULL AND kek_id <> $1 ORDER BY key_id FOR UPDATE",
        box.key_id,
    )
    republished = 0
    for r in rows:
        wrapped = box.wrap(_unwrap(bytes(r["wrapped"]), r["kek_id"]))
        await conn.execute(
            "UPDATE data_keys SET wrapped = $2, kek_id = $3, seq = nextval('data_keys_seq') WHERE key_id = $1",
            r["key_id"], wrapped, box.key_id,
        )  # fmt: skip
        if r["owner"] != service:
            continue
        await conn.execute(  # the old wrapping leaves the outbox; the new one replaces it on the topic
            "DELETE FROM outbox WHERE event_type = $1 AND topic = $2 AND key = $3",
            KEY_RECORD_TYPE, topics.keys, r["key_id"],
        )  # fmt: skip
        record = {
            "key_id": r["key_id"], "tenant": r["tenant"], "owner": service, "kind": r["kind"],
            "scope_id": r["scope_id"], "programme_id": r["programme_id"], "kek_id": box.key_id,
            "wrapped": base64.b64encode(wrapped).decode(),
        }  # fmt: skip
        await _to_key_topic(conn, topics, r["tenant"], r["key_id"], f"datakey:{r['key_id']}:{box.key_id}", record)
        republished += 1
    return len(rows), republished


# --- reading the key topic ----------------------------------------------------------------------------------


def parse_key_record(value: bytes | None) -> dict[str, Any] | None:
    """A key topic record's value, or None for one that is not a key record (logged by the caller)."""
    if not value:
        return None
    try:
        record = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key_id"), str):
        return None
    if not record.get("destroyed") and not all(
        isinstance(record.get(f), str) for f in ("wrapped", "kek_id", "owner", "kind", "tenant", "scope_id")
    ):
        return None
    return record


async def mirror(conn: Conn, records: Iterable[dict[str, Any]]) -> int:
    """Apply key topic records to this database's `data_keys`: a key is added once, a destroyed marker wipes it
    for good (an old issue record read again never brings a destroyed key back). Returns how many changed."""
    changed = 0
    destroyed: list[str] = []
    current = kms().key_id
    for r in records:
        if r.get("destroyed"):
            status = await conn.execute(
                "INSERT INTO data_keys (key_id, tenant, owner, kind, scope_id, programme_id, kek_id, wrapped, "
                "destroyed_at, destroyed_reason) VALUES ($1, $2, $3, '', '', NULL, '', NULL, clock_timestamp(), $4) "
                "ON CONFLICT (key_id) DO UPDATE SET wrapped = NULL, destroyed_at = clock_timestamp(), "
                "destroyed_reason = EXCLUDED.destroyed_reason, seq = nextval('data_keys_seq') "
                "WHERE data_keys.destroyed_at IS NULL",
                r["key_id"], r.get("tenant", ""), r.get("owner", ""), str(r.get("reason", "")),
            )  # fmt: skip
            destroyed.append(r["key_id"])
        else:
            status = await conn.execute(  # a key re-wrapped by the current KEK (rewrap) replaces the old wrapping
                "INSERT INTO data_keys (key_id, tenant, owner, kind, scope_id, programme_id, kek_id, wrapped) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id) DO UPDATE SET "
                "wrapped = EXCLUDED.wrapped, kek_id = EXCLUDED.kek_id, seq = nextval('data_keys_seq') "
                "WHERE data_keys.destroyed_at IS NULL "
                "AND EXCLUDED.kek_id = $9 AND data_keys.kek_id <> $9",
                r["key_id"], r["tenant"], r["owner"], r["kind"], r["scope_id"], r.get("programme_id"), r["kek_id"],
                base64.b64decode(r["wrapped"]), current,
            )  # fmt: skip
        changed += int(status.rsplit(" ", 1)[-1])
    if destroyed:
        _forget_everywhere(destroyed)
    return changed


def keys_from_records(records: Iterable[dict[str, Any]]) -> StaticKeys:
    """The key topic, read to its end, as keys in memory (what a tool without a database decodes with): the
    latest record of each key decides (a destroyed marker, or the newest wrapping after a KEK rotation), and a
    destroyed key never comes back."""
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        if not (latest.get(r["key_id"], {}).get("destroyed")):
            latest[r["key_id"]] = r
    return StaticKeys(
        {
            key_id: None if r.get("destroyed") else _unwrap(base64.b64decode(r["wrapped"]), r["kek_id"])
            for key_id, r in latest.items()
        }
    )
