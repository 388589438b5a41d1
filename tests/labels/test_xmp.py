"""The XMP property codec: find and set TC260:AIGC, keep everything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.errors import MalformedFile
from synthguard.labels.xmp import TC260_NS, find_aigc, fit_packet, remove_aigc, set_aigc

EXISTING = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Credit="Studio">'
    b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sunset &amp; sea</rdf:li></rdf:Alt>'
    b"</dc:title></rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def test_new_packet() -> None:
    packet = set_aigc(None, '{"Label":"1"}')
    assert packet.startswith(b"<?xpacket begin=")
    assert packet.rstrip().endswith(b'<?xpacket end="w"?>')
    assert b"xmlns:TC260=" in packet and b"<TC260:AIGC>" in packet
    [value] = find_aigc(packet)
    assert value.raw == '{"Label":"1"}' and value.form == "element"
    assert value.namespace == TC260_NS


def test_merge_keeps_other_properties_and_prefixes() -> None:
    packet = set_aigc(EXISTING, '{"Label":"2","ProduceID":"a&b<c>"}')
    assert b'photoshop:Credit="Studio"' in packet
    assert b"Sunset &amp; sea" in packet and b'xml:lang="x-default"' in packet
    assert b"dc:title" in packet
    [value] = find_aigc(packet)
    assert value.raw == '{"Label":"2","ProduceID":"a&b<c>"}'


def test_rewrite_replaces_both_forms() -> None:
    attr = EXISTING.replace(
        b'photoshop:Credit="Studio"',
        b'photoshop:Credit="Studio" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" '
        b'TC260:AIGC="old"')
    assert [v.form for v in find_aigc(attr)] == ["attribute"]
    once = set_aigc(attr, "new1")
    twice = set_aigc(once, "new2")
    assert [v.raw for v in find_aigc(twice)] == ["new2"]


def test_wrong_namespace_is_found_and_replaced() -> None:
    wrong = EXISTING.replace(b"</rdf:Description>",
                             b'<my:AIGC xmlns:my="http://example.com/x/">v</my:AIGC>'
                             b"</rdf:Description>")
    [value] = find_aigc(wrong)
    assert value.namespace == "http://example.com/x/"
    assert [v.namespace for v in find_aigc(set_aigc(wrong, "v2"))] == [TC260_NS]


@pytest.mark.parametrize("bad", [
    b"<x:xmpmeta", b"not xml", b"",
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
])
def test_hostile_packets(bad: bytes) -> None:
    with pytest.raises(MalformedFile):
        find_aigc(bad)


@given(st.binary(max_size=300))
def test_find_total(data: bytes) -> None:
    try:
        find_aigc(data)
    except MalformedFile:
        pass


def test_nesting_bomb_is_refused() -> None:
    deep = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + b"<a>" * 6000 + b"</a>" * 6000
            + b"</x:xmpmeta>")
    with pytest.raises(MalformedFile, match="deeper"):
        set_aigc(deep, "v")
    with pytest.raises(MalformedFile, match="deeper"):
        find_aigc(deep)


def test_remove_keeps_everything_else() -> None:
    labeled = set_aigc(EXISTING, "v")
    stripped = remove_aigc(labeled)
    assert find_aigc(stripped) == []
    assert b'photoshop:Credit="Studio"' in stripped and b"Sunset &amp; sea" in stripped


def test_fit_packet() -> None:
    packet = set_aigc(None, "v", padding=0)
    padded = fit_packet(packet, len(packet) + 100)
    assert padded is not None and len(padded) == len(packet) + 100
    assert padded.rstrip().endswith(b'<?xpacket end="w"?>')
    assert [v.raw for v in find_aigc(padded)] == ["v"]
    assert fit_packet(packet, len(packet) - 1) is None
