"""The pure tamper-evidence logic (shared.chain): canonical bytes, chains, Merkle roots, checkpoints, verification."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from shared import chain
from shared.chain import GENESIS, Link

STREAM = ("acme", "t.pairing.events", "pair-1")
#: Each written event's canonical bytes, by event id (a Link keeps only their digests).
CANONICAL: dict[str, bytes] = {}


def moved(link: Link, order: int, where: str) -> Link:
    """The same event at another place."""
    return Link(link.stream, order, where, link.event_id, link.event_type, CANONICAL[link.event_id], link.prev_hash,
                link.hash, link.position)  # fmt: skip


def headers(event_id: str, position: int) -> list[tuple[str, bytes]]:
    return [
        ("ce_id", event_id.encode()),
        ("ce_type", b"tandem.pairing.PairCreated"),
        ("ce_tenant", b"acme"),
        (chain.POSITION_HEADER, str(position).encode()),
        ("content-type", b"application/json"),
    ]


def written(n: int, stream: tuple[str, str, str] = STREAM) -> list[Link]:
    """A stream of `n` chained events as an honest writer makes them."""
    out, prev = [], GENESIS
    for i in range(n):
        event_id = str(uuid.uuid4())
        canonical = chain.canonical(headers(event_id, i + 1), stream[2].encode(), f'{{"n":{i}}}'.encode())
        own = chain.chain_hash(prev, canonical)
        CANONICAL[event_id] = canonical
        out.append(Link(stream, i, f"topic/0/{i}", event_id, "tandem.pairing.PairCreated", canonical, prev, own, i + 1))
        prev = own
    return out


def kinds(report: chain.Report) -> list[tuple[str, str]]:
    return [(f.kind, f.where) for f in report.findings]


def test_the_canonical_bytes_leave_out_trace_and_chain_headers_and_keep_the_value_as_written() -> None:
    base = headers("e-1", 1)
    plain = chain.canonical(base, b"k", b'{"a": 1}')
    traced = chain.canonical(
        [*base, ("ce_traceparent", b"00-abc"), ("ce_tracestate", b"x=1"), (chain.HASH_HEADER, b"ff")], b"k", b'{"a": 1}'
    )
    assert plain == traced
    assert chain.canonical(list(reversed(base)), b"k", b'{"a": 1}') == plain  # header order does not matter
    assert chain.canonical(base, b"k", b'{"a":1}') != plain  # the bytes as written, not their meaning
    assert chain.canonical(base, b"k2", b'{"a": 1}') != plain
    assert chain.canonical([*base, ("ce_subject", b"s")], b"k", b'{"a": 1}') != plain
    assert chain.canonical(headers("e-1", 2), b"k", b'{"a": 1}') != plain  # the position is covered
    assert chain.canonical([*base, ("content-type", b"text/plain")], b"k", b'{"a": 1}') == plain  # ce_* only


def test_length_prefixes_keep_fields_apart() -> None:
    assert chain.canonical([("ce_a", b"bc")], b"", b"") != chain.canonical([("ce_ab", b"c")], b"", b"")
    assert chain.canonical([], b"ab", b"c") != chain.canonical([], b"a", b"bc")


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_bytes() -> None:
    assert chain.chain_hash(GENESIS, b"x") == hashlib.sha256(bytes(32) + b"x").digest()
    with pytest.raises(ValueError, match="32 bytes"):
        chain.chain_hash(b"short", b"x")


def test_a_link_keeps_digests_not_bytes() -> None:
    link = written(1)[0]
    assert link.digest == hashlib.sha256(CANONICAL[link.event_id]).digest()
    assert link.computed == link.hash
    assert not hasattr(link, "canonical")


def test_a_copy_with_other_bytes_under_the_same_id_and_hash_is_a_change() -> None:
    links = written(2)
    copy = Link(STREAM, 7, "topic/0/7", links[1].event_id, links[1].event_type, b"other", links[1].prev_hash,
                links[1].hash, links[1].position)  # fmt: skip
    assert kinds(chain.verify_links([*links, copy])) == [("changed", "topic/0/7")]


def test_a_clean_stream_verifies_and_an_exact_resend_is_a_duplicate_not_a_finding() -> None:
    links = written(4)
    resent = moved(links[1], 9, "topic/0/9")
    report = chain.verify_links([*links, resent])
    assert report.findings == []
    assert (report.chained, report.duplicates, report.streams) == (4, 1, 1)
    assert report.heads == {STREAM: links[-1].hash}


def test_a_changed_event_is_named() -> None:
    links = written(4)
    bad = links[2]
    links[2] = Link(bad.stream, bad.order, bad.where, bad.event_id, bad.event_type, CANONICAL[bad.event_id] + b"!",
                    bad.prev_hash, bad.hash, bad.position)  # fmt: skip
    assert kinds(chain.verify_links(links)) == [("changed", "topic/0/2")]


def test_a_removed_event_is_named_at_its_successor() -> None:
    links = written(4)
    del links[1]
    report = chain.verify_links(links)
    assert kinds(report) == [("removed", "topic/0/2")]
    assert report.findings[0].event_id == links[1].event_id


def test_an_inserted_event_claiming_an_existing_predecessor_is_named() -> None:
    links = written(4)
    forged_canonical = chain.canonical(headers("forged", 99), b"pair-1", b'{"n":"forged"}')
    forged = Link(STREAM, 1, "topic/0/1b", "forged", "tandem.pairing.PairCreated", forged_canonical,
                  links[0].hash, chain.chain_hash(links[0].hash or GENESIS, forged_canonical), 99)  # fmt: skip
    report = chain.verify_links([*links, forged])
    assert kinds(report) == [("inserted", "topic/0/1b")]
    assert links[1].event_id in report.findings[0].detail


def test_an_inserted_event_without_chain_hashes_after_the_chain_began_is_named() -> None:
    links = written(3)
    bare = Link(STREAM, 5, "topic/0/5", "bare", "tandem.pairing.PairCreated", b"x", None, None)
    assert kinds(chain.verify_links([*links, bare])) == [("inserted", "topic/0/5")]


def test_two_swapped_events_are_named_as_reordered() -> None:
    links = written(4)
    a, b = links[1], links[2]
    swapped = [
        links[0],
        moved(b, 1, "topic/0/1"),
        moved(a, 2, "topic/0/2"),
        links[3],
    ]
    report = chain.verify_links(swapped)
    assert kinds(report) == [("reordered", "topic/0/1")]
    assert report.findings[0].event_id == b.event_id


def test_legacy_unchained_events_are_counted_and_key_records_skipped() -> None:
    legacy = Link(STREAM, -2, "topic/0/0", "old", "tandem.pairing.PairCreated", b"old", None, None)
    keys = Link(("acme", "t", "k"), 0, "topic/1/0", "key", "tandem.keys.DataKeyIssued", b"k", None, None)
    report = chain.verify_links([legacy, keys, *written(2)])
    assert report.findings == []
    assert (report.unchained, report.key_records, report.chained) == (1, 1, 2)


def test_one_missing_chain_hash_is_a_change() -> None:
    link = written(1)[0]
    half = Link(
        link.stream, 0, link.where, link.event_id, link.event_type, CANONICAL[link.event_id], link.prev_hash, None
    )
    assert kinds(chain.verify_links([half])) == [("changed", "topic/0/0")]


def test_the_merkle_root_is_over_sorted_streams_and_changes_with_any_head() -> None:
    a, b, c = ("t", "x", "1"), ("t", "x", "2"), ("t", "y", "1")
    heads = {a: b"\x01" * 32, b: b"\x02" * 32, c: b"\x03" * 32}
    root = chain.merkle_root(heads)
    assert chain.merkle_root(dict(reversed(list(heads.items())))) == root
    assert chain.merkle_root({**heads, b: b"\x04" * 32}) != root
    assert chain.merkle_root({a: heads[a], b: heads[b]}) != root
    assert chain.merkle_root({}) == hashlib.sha256(b"").digest()
    leaf = hashlib.sha256(b"\x00" + b"".join(len(p).to_bytes(4, "big") + p.encode() for p in a) + heads[a]).digest()
    assert chain.merkle_root({a: heads[a]}) == leaf


def checkpoint(heads: dict[tuple[str, str, str], bytes], events: int) -> chain.Checkpoint:
    key = chain.load_private_key(chain.new_private_key_pem())
    cp = chain.Checkpoint("pairing", "2026-12-07T12:00:00.000000Z", 10, events, len(heads), chain.merkle_root(heads))
    return chain.sign(key, cp)


def test_a_signed_checkpoint_verifies_against_the_heads_it_was_made_from() -> None:
    links = written(3)
    report = chain.verify_links(links)
    cp = checkpoint(report.heads, report.chained)
    assert chain.signature_valid(cp)
    assert chain.verify_checkpoint(cp, report.heads, report.chained, where="cp 1") == []
    assert chain.verify_checkpoint(cp, report.heads, report.chained, where="cp 1", trusted_key=cp.public_key) == []


def test_a_checkpoint_with_a_changed_signature_root_or_count_is_caught() -> None:
    report = chain.verify_links(written(3))
    cp = checkpoint(report.heads, report.chained)
    forged_sig = chain.Checkpoint(**{**cp.__dict__, "signature": bytes(64)})
    assert [f.detail for f in chain.verify_checkpoint(forged_sig, report.heads, 3, where="cp")] == [
        "its signature does not verify with its public key"
    ]
    forged_root = chain.Checkpoint(**{**cp.__dict__, "root": bytes(32)})
    details = [f.detail for f in chain.verify_checkpoint(forged_root, report.heads, 3, where="cp")]
    assert details[0] == "its signature does not verify with its public key"
    assert "Merkle root" in details[1]
    other_heads = {STREAM: b"\x09" * 32}
    assert "Merkle root" in chain.verify_checkpoint(cp, other_heads, 3, where="cp")[0].detail
    assert "2 chained events" in chain.verify_checkpoint(cp, report.heads, 2, where="cp")[0].detail
    other_key = chain.public_key_pem(chain.load_private_key(chain.new_private_key_pem()))
    assert "other than the configured" in chain.verify_checkpoint(cp, report.heads, 3, where="cp",
                                                                  trusted_key=other_key)[0].detail  # fmt: skip


def test_a_bad_key_file_is_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        chain.load_private_key(b"not a key")


def test_a_chain_header_that_is_not_32_bytes_of_hex_is_refused() -> None:
    assert chain.parse_hex(None) is None
    assert chain.parse_hex("00" * 32) == bytes(32)
    with pytest.raises(ValueError):
        chain.parse_hex("zz")
    with pytest.raises(ValueError, match="32 bytes"):
        chain.parse_hex("00")
