"""Tamper evidence, the pure part: the canonical bytes of an event, its chain hash, the Merkle root of a service's
stream heads, signed checkpoints and the verification of chains. No I/O here (shared.audit_chain reads the log and
the outbox and calls these).

**The chain.** A stream is (tenant, topic, key): one aggregate's events on one topic. Each event carries the hash
of its predecessor in its stream (`prev_hash`, 32 zero bytes for the first) and its own hash,

    hash = SHA-256(prev_hash || canonical(headers, key, value))

published as the headers `ce_tandemprevhash` and `ce_tandemhash` (lower-case hex). The canonical bytes can be
recomputed from the Kafka record alone:

    b"tandem-chain-v1\\n"
    then, for each header whose name starts with "ce_", except ce_traceparent, ce_tracestate and the two chain
    headers, sorted by (name, value):  u32(len(name)) || name || u32(len(value)) || value
    then u32(len(key)) || key
    then u64(len(value)) || value

(u32/u64: big-endian unsigned lengths; names and values as the UTF-8 bytes on the wire). The value is hashed as it
was written, never re-serialised: it may hold ciphertext. The topic is not part of it, so a stream's records copied
to another topic still verify; moving an event to another stream breaks that stream's links instead.

**Checkpoints.** A service signs (Ed25519) the message `checkpoint_message(...)`: canonical JSON (sorted keys, no
spaces) of its service name, time, the outbox position it covers, the number of chained events up to there and the
Merkle root (RFC 6962 shape, leaves sorted by stream) over the heads of all its streams as of that position.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREV_HEADER = "ce_tandemprevhash"
HASH_HEADER = "ce_tandemhash"
CHAIN_HEADERS = frozenset({PREV_HEADER, HASH_HEADER})
#: A chained event's outbox position (decimal); part of the canonical bytes, so a checkpoint's coverage (every
#: event at or below its position) can be told from the log alone.
POSITION_HEADER = "ce_tandemposition"
#: Headers left out of the canonical bytes: the trace context (differs between copies) and the chain itself.
EXCLUDED_HEADERS = frozenset({"ce_traceparent", "ce_tracestate", *CHAIN_HEADERS})
#: The predecessor of a stream's first chained event.
GENESIS = bytes(32)
#: Event types that are key-distribution records, not events: never chained (they may be deleted later).
UNCHAINED_PREFIX = "tandem.keys."
_MAGIC = b"tandem-chain-v1\n"

#: (tenant, topic, key)
Stream = tuple[str, str, str]


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def canonical(headers: Iterable[tuple[str, bytes | str]], key: bytes | str, value: bytes | str) -> bytes:
    """The bytes an event's hash covers (see the module's docstring for the form)."""
    kept = sorted(
        (name.encode(), _as_bytes(v)) for name, v in headers if name.startswith("ce_") and name not in EXCLUDED_HEADERS
    )
    parts = [_MAGIC]
    for name, v in kept:
        parts += [struct.pack(">I", len(name)), name, struct.pack(">I", len(v)), v]
    k, body = _as_bytes(key), _as_bytes(value)
    parts += [struct.pack(">I", len(k)), k, struct.pack(">Q", len(body)), body]
    return b"".join(parts)


def chain_hash(prev_hash: bytes, canonical_bytes: bytes) -> bytes:
    if len(prev_hash) != 32:
        raise ValueError(f"a previous hash is 32 bytes, not {len(prev_hash)}")
    return hashlib.sha256(prev_hash + canonical_bytes).digest()


def chained(event_type: str) -> bool:
    """Whether events of this type are chained (key-distribution records are not)."""
    return not event_type.startswith(UNCHAINED_PREFIX)


def stream_lock_key(stream: Stream) -> str:
    """The text whose hash names a stream's advisory lock."""
    return "\x1f".join(stream)


def _stream_bytes(stream: Stream) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in (s.encode() for s in stream))


def merkle_root(heads: dict[Stream, bytes]) -> bytes:
    """RFC 6962-shaped Merkle tree hash over the streams' heads, leaves sorted by stream:
    leaf = SHA-256(0x00 || stream || head), node = SHA-256(0x01 || left || right); no streams: SHA-256("")."""
    leaves = [hashlib.sha256(b"\x00" + _stream_bytes(s) + heads[s]).digest() for s in sorted(heads)]
    return _tree(leaves)


def _tree(nodes: Sequence[bytes]) -> bytes:
    if not nodes:
        return hashlib.sha256(b"").digest()
    if len(nodes) == 1:
        return nodes[0]
    split = 1 << ((len(nodes) - 1).bit_length() - 1)  # the largest power of two below len(nodes)
    return hashlib.sha256(b"\x01" + _tree(nodes[:split]) + _tree(nodes[split:])).digest()


# -- checkpoints ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    service: str
    #: ISO 8601, UTC.
    time: str
    #: The outbox position it covers (every event at or below it).
    position: int
    #: Chained events up to `position`.
    events: int
    #: Streams with at least one chained event up to `position`.
    streams: int
    root: bytes
    signature: bytes = b""
    #: The signer's public key (PEM, SubjectPublicKeyInfo).
    public_key: str = ""

    def message(self) -> bytes:
        return checkpoint_message(self.service, self.time, self.position, self.events, self.streams, self.root)

    def as_json(self) -> dict[str, object]:
        """The exported form: what is signed, the signature and the public key; verifiable with `cryptography`
        alone (Ed25519PublicKey.verify(bytes.fromhex(signature), signed.encode()))."""
        return {
            "service": self.service,
            "time": self.time,
            "position": self.position,
            "events": self.events,
            "streams": self.streams,
            "root": self.root.hex(),
            "signed": self.message().decode(),
            "signature": self.signature.hex(),
            "public_key": self.public_key,
            "algorithm": "Ed25519",
        }


def checkpoint_message(service: str, time: str, position: int, events: int, streams: int, root: bytes) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    body = {
        "algorithm": "Ed25519",
        "events": events,
        "position": position,
        "root": root.hex(),
        "service": service,
        "streams": streams,
        "time": time,
        "version": 1,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8, unencrypted). Raises ValueError naming the problem."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
    return key


def new_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> Checkpoint:
    return Checkpoint(
        service=checkpoint.service,
        time=checkpoint.time,
        position=checkpoint.position,
        events=checkpoint.events,
        streams=checkpoint.streams,
        root=checkpoint.root,
        signature=key.sign(checkpoint.message()),
        public_key=public_key_pem(key),
    )


def signature_valid(checkpoint: Checkpoint) -> bool:
    try:
        public = serialization.load_pem_public_key(checkpoint.public_key.encode())
    except (ValueError, TypeError):
        return False
    if not isinstance(public, Ed25519PublicKey):
        return False
    try:
        public.verify(checkpoint.signature, checkpoint.message())
    except InvalidSignature:
        return False
    return True


# -- verification --------------------------------------------------------------------------------------------------

CHANGED, REMOVED, INSERTED, REORDERED, CHECKPOINT = "changed", "removed", "inserted", "reordered", "checkpoint"


@dataclass(frozen=True, slots=True)
class Link:
    """One event as the verifier sees it, from the log or from an outbox. It keeps digests of its canonical bytes,
    not the bytes (a whole log is held in memory as links)."""

    stream: Stream
    #: Its order in the stream: the offset (log: a stream is one key, so one partition) or the outbox position.
    order: int
    #: Where it is, for people: "topic/partition/offset" or "outbox position N".
    where: str
    event_id: str
    event_type: str
    canonical: InitVar[bytes]
    prev_hash: bytes | None
    hash: bytes | None
    #: The outbox position it says it was written at (`ce_tandemposition`); None for unchained events.
    position: int | None = None
    #: SHA-256 of its canonical bytes (tells an exact copy from a changed one).
    digest: bytes = field(init=False)
    #: Its hash recomputed from its bytes and its `prev_hash` (None without one).
    computed: bytes | None = field(init=False)

    def __post_init__(self, canonical: bytes) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(canonical).digest())
        computed = (
            chain_hash(self.prev_hash, canonical) if self.prev_hash is not None and len(self.prev_hash) == 32 else None
        )
        object.__setattr__(self, "computed", computed)


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    event_id: str
    detail: str

    def line(self) -> str:
        event = f" (event {self.event_id})" if self.event_id else ""
        return f"{self.kind.upper()}: {self.where}{event}: {self.detail}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    chained: int = 0
    #: Events written before chaining existed (no chain headers): counted, not findings.
    unchained: int = 0
    #: Key-distribution records (not chained by design).
    key_records: int = 0
    #: Exact copies of an event already seen (the relay's at-least-once re-send).
    duplicates: int = 0
    #: The claimed hash of each stream's last chained event.
    heads: dict[Stream, bytes] = field(default_factory=dict)

    @property
    def streams(self) -> int:
        return len(self.heads)

    def summary(self, what: str) -> str:
        verdict = "clean" if not self.findings else f"{len(self.findings)} finding(s)"
        return (
            f"{what}: {verdict}; {self.chained} chained events in {self.streams} streams, {self.unchained} unchained "
            f"(written before chaining), {self.duplicates} duplicates, {self.key_records} key records"
        )


def parse_hex(value: str | bytes | None) -> bytes | None:
    """A chain header's value as bytes; None when absent. Raises ValueError when it is not 32 bytes of hex."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    raw = bytes.fromhex(text)
    if len(raw) != 32:
        raise ValueError(f"a chain hash is 32 bytes, not {len(raw)}")
    return raw


def _short(h: bytes) -> str:
    return h.hex()[:16] + "…"


def verify_links(links: Iterable[Link]) -> Report:
    """Recompute every chain in `links` (any order) and report each changed, removed, inserted or reordered event."""
    report = Report()
    by_stream: dict[Stream, list[Link]] = {}
    for link in links:
        by_stream.setdefault(link.stream, []).append(link)
    for stream in sorted(by_stream):
        _verify_stream(sorted(by_stream[stream], key=lambda e: e.order), report)
    return report


def _verify_stream(events: list[Link], report: Report) -> None:
    seen: dict[str, Link] = {}
    chain: list[Link] = []
    for e in events:
        if not chained(e.event_type) and e.hash is None and e.prev_hash is None:
            report.key_records += 1
            continue
        first = seen.get(e.event_id)
        if first is not None:
            if first.hash == e.hash and first.digest == e.digest:
                report.duplicates += 1
            else:
                report.findings.append(
                    Finding(CHANGED, e.where, e.event_id, f"a second copy of the event at {first.where} differs")
                )
            continue
        seen[e.event_id] = e
        if e.hash is None and e.prev_hash is None:
            if chain:
                report.findings.append(
                    Finding(INSERTED, e.where, e.event_id, "an event without chain hashes after the chain began")
                )
            else:
                report.unchained += 1
            continue
        if e.hash is None or e.prev_hash is None:
            report.findings.append(Finding(CHANGED, e.where, e.event_id, "one of its two chain hashes is missing"))
            continue
        report.chained += 1
        if e.computed != e.hash:
            report.findings.append(
                Finding(CHANGED, e.where, e.event_id, "its bytes do not match its hash (changed after it was written)")
            )
        chain.append(e)
    if not chain:
        return
    report.heads[events[0].stream] = chain[-1].hash or GENESIS
    index = {e.hash: i for i, e in enumerate(chain)}
    successors: dict[bytes, list[int]] = {}
    for i, e in enumerate(chain):
        assert e.prev_hash is not None
        successors.setdefault(e.prev_hash, []).append(i)
    has_successor = {i for i, e in enumerate(chain) if e.hash in successors}
    for i, e in enumerate(chain):
        assert e.prev_hash is not None
        if e.prev_hash != GENESIS and e.prev_hash not in index:
            report.findings.append(
                Finding(
                    REMOVED,
                    e.where,
                    e.event_id,
                    f"its predecessor (hash {_short(e.prev_hash)}) is not in the stream: an event was removed",
                )
            )
        elif e.prev_hash != GENESIS and index[e.prev_hash] > i:
            pred = chain[index[e.prev_hash]]
            report.findings.append(
                Finding(REORDERED, e.where, e.event_id, f"its predecessor {pred.event_id} is after it ({pred.where})")
            )
    for prev, claimants in successors.items():
        if len(claimants) < 2:
            continue
        # the genuine one is the one the chain goes on from; of several such (or none), the first written
        genuine = next((i for i in claimants if i in has_successor), claimants[0])
        for i in claimants:
            if i == genuine:
                continue
            e, other = chain[i], chain[genuine]
            what = "the stream's start" if prev == GENESIS else f"predecessor {_short(prev)}"
            report.findings.append(
                Finding(
                    INSERTED,
                    e.where,
                    e.event_id,
                    f"it claims {what}, as {other.event_id} at {other.where} does: one of them was inserted",
                )
            )


def verify_checkpoint(
    checkpoint: Checkpoint, heads: dict[Stream, bytes], events: int, *, where: str, trusted_key: str | None = None
) -> list[Finding]:
    """A checkpoint's findings: a bad signature, a key other than the trusted one, or a Merkle root or count that
    the chains as of its position (`heads`, `events`) do not give."""
    found: list[Finding] = []
    if not signature_valid(checkpoint):
        found.append(Finding(CHECKPOINT, where, "", "its signature does not verify with its public key"))
    if trusted_key is not None and trusted_key.strip() != checkpoint.public_key.strip():
        found.append(Finding(CHECKPOINT, where, "", "it is signed by a key other than the configured signing key"))
    root = merkle_root(heads)
    if root != checkpoint.root:
        found.append(
            Finding(
                CHECKPOINT,
                where,
                "",
                f"the Merkle root of the stream heads as of position {checkpoint.position} is {_short(root)}, the "
                f"signed one {_short(checkpoint.root)}: an event at or before it was changed, removed or inserted",
            )
        )
    if events != checkpoint.events:
        found.append(
            Finding(
                CHECKPOINT,
                where,
                "",
                f"{events} chained events up to position {checkpoint.position}, the signed checkpoint says "
                f"{checkpoint.events}",
            )
        )
    return found
