"""OOXML carrier: the `AIGC` custom document property in docProps/custom.xml.

Fixtures come from python-docx, openpyxl and python-pptx. The output is checked by an
independent zip reader (zipfile + a local-header walk below) and ElementTree, by the
three libraries themselves, and by exiftool (`XML:AIGC`). Every member we do not edit
must keep its raw compressed bytes.
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.packaging.custom import StringProperty

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import ooxml
from tests.tools import exiftool_json

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="d<1>&'\"")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="doc-2",
                          propagator="PLATFORM42", propagate_id="p-77")
NS = {"cp": ooxml.CP_NS, "vt": ooxml.VT_NS, "ct": ooxml.CT_NS, "r": ooxml.REL_NS}
EDITED = {"docProps/custom.xml", "[Content_Types].xml", "_rels/.rels"}


def _docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("An AI-written paragraph.")
    document.core_properties.title = "Minutes"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = 42
    book.custom_doc_props.append(StringProperty(name="Department", value="R&D"))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pptx() -> bytes:
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[0]).shapes.title.text = "Hello"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes | None], *, streamed: bool = False) -> bytes:
    """Copy a package through zipfile, replacing (or with None, dropping) members.
    `streamed` writes to an unseekable sink, so every member gets a data descriptor."""
    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            chunk = bytes(b)  # type: ignore[call-overload]
            self.buffer += chunk
            return len(chunk)

    sink: io.BytesIO | Sink = Sink() if streamed else io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as dst:  # type: ignore[arg-type]
        for info in src.infolist():
            if info.filename in replace:
                continue
            dst.writestr(info.filename, src.read(info))
        for name, content in replace.items():
            if content is not None:
                dst.writestr(name, content)
    return bytes(sink.buffer) if isinstance(sink, Sink) else sink.getvalue()


# Office's own spelling: default namespace and `vt:`; exiftool matches these literally.
CUSTOM_WITH_OTHERS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="' + ooxml.CP_NS.encode() + b'" xmlns:vt="' + ooxml.VT_NS.encode()
    + b'">\n  <!-- kept -->\n  <property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" '
    b'pid="2" name="Client"><vt:lpwstr>ACME &amp; Co</vt:lpwstr></property>\n'
    b'  <property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="7" name="Pages">'
    b"<vt:i4>12</vt:i4></property>\n</Properties>")
# The same part with other prefixes: still the same XML, and the splice must follow them.
CUSTOM_PREFIXED = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<op:Properties xmlns:op="' + ooxml.CP_NS.encode() + b'" xmlns:v="' + ooxml.VT_NS.encode()
    + b'"><op:property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Client">'
    b"<v:lpwstr>ACME &amp; Co</v:lpwstr></op:property></op:Properties>")


def _docx_with_custom() -> bytes:
    with zipfile.ZipFile(io.BytesIO(_docx())) as z:
        rels = z.read("_rels/.rels").replace(
            b"</Relationships>", b'<Relationship Id="rId9" Type="' + ooxml.CUSTOM_REL.encode()
            + b'" Target="/docProps/custom.xml"/></Relationships>')
        types = z.read("[Content_Types].xml").replace(
            b"</Types>", b'<Override PartName="/docProps/custom.xml" ContentType="'
            + ooxml.CUSTOM_TYPE.encode() + b'"/></Types>')
    return rezip(_docx(), {"docProps/custom.xml": CUSTOM_WITH_OTHERS, "_rels/.rels": rels,
                           "[Content_Types].xml": types})


# Cached: the libraries stamp the current time, and hypothesis needs the same bytes
# from one example to the next.
KINDS: dict[str, Callable[[], bytes]] = {
    "docx": cache(_docx),
    "xlsx": cache(_xlsx),
    "pptx": cache(_pptx),
    "docx-custom": cache(_docx_with_custom),
    "docx-descriptors": cache(lambda: rezip(_docx(), {}, streamed=True)),
}


def relabel(data: bytes, label: AIGCLabel = FIRST) -> bytes:
    out = io.BytesIO()
    ooxml.write(io.BytesIO(data), out, label)
    return out.getvalue()


def raw_members(data: bytes) -> dict[str, tuple[int, int, bytes]]:
    """name -> (CRC, size, raw compressed bytes), by walking local headers ourselves."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        for info in z.infolist():
            name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + name_len + extra_len
            out[info.filename] = (info.CRC, info.file_size,
                                  data[start:start + info.compress_size])
    return out


def custom_properties(data: bytes) -> list[tuple[str, str, str, str]]:
    """(name, pid, value type, value) of every property, parsed independently."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = ET.fromstring(z.read("docProps/custom.xml"))
    assert root.tag == f"{{{ooxml.CP_NS}}}Properties"
    return [(p.get("name", ""), p.get("pid", ""), p[0].tag.split("}")[1], p[0].text or "")
            for p in root.findall("cp:property", NS)]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_label_is_one_custom_property_and_other_members_keep_their_bytes(kind: str) -> None:
    original = KINDS[kind]()
    once = relabel(original, SECOND)
    twice = relabel(once, FIRST)

    before, after = raw_members(original), raw_members(twice)
    assert {n: m for n, m in after.items() if n not in EDITED} == {
        n: m for n, m in before.items() if n not in EDITED}
    props = custom_properties(twice)
    labels = [p for p in props if p[0] == "AIGC"]
    assert labels == [("AIGC", labels[0][1], "lpwstr", FIRST.to_json())]
    assert int(labels[0][1]) >= 2 and len({p[1] for p in props}) == len(props)
    before_props = custom_properties(original) if "docProps/custom.xml" in before else []
    assert [p for p in props if p[0] != "AIGC"] == before_props
    with zipfile.ZipFile(io.BytesIO(twice)) as z:
        types = ET.fromstring(z.read("[Content_Types].xml"))
        rels = ET.fromstring(z.read("_rels/.rels"))
    overrides = [o for o in types.findall("ct:Override", NS)
                 if o.get("PartName") == "/docProps/custom.xml"]
    assert [o.get("ContentType") for o in overrides] == [ooxml.CUSTOM_TYPE]
    custom_rels = [r for r in rels.findall("r:Relationship", NS)
                   if r.get("Type") == ooxml.CUSTOM_REL]
    assert len(custom_rels) == 1
    assert len({r.get("Id") for r in rels}) == len(rels)
    found = ooxml.read(io.BytesIO(twice))
    assert [(s.carrier, s.raw, s.findings) for s in found] == [
        ("ooxml:custom", FIRST.to_json(), [])]
    assert relabel(twice) == twice  # relabelling with the same label is stable


@pytest.mark.parametrize(("custom", "root", "added"), [
    (CUSTOM_WITH_OTHERS, b"Properties", b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"'
     b' pid="8" name="AIGC"><vt:lpwstr>'),
    (CUSTOM_PREFIXED, b"op:Properties", b'<op:property fmtid='
     b'"{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="AIGC"><v:lpwstr>'),
])
def test_existing_custom_part_is_merged_byte_for_byte(custom: bytes, root: bytes,
                                                      added: bytes) -> None:
    original = _with_custom(custom)
    with zipfile.ZipFile(io.BytesIO(relabel(original))) as z:
        merged = z.read("docProps/custom.xml")
    close = b"</" + root + b">"
    head = custom[:custom.rindex(close)]
    assert merged.startswith(head + added) and merged.endswith(close)
    assert custom_properties(relabel(original))[0] == ("Client", "2", "lpwstr", "ACME & Co")


def test_libraries_still_open_the_labelled_files(tmp_path: Path) -> None:
    paths = {}
    for kind in ("docx", "xlsx", "pptx"):
        paths[kind] = tmp_path / f"labelled.{kind}"
        paths[kind].write_bytes(relabel(KINDS[kind]()))
    assert docx.Document(str(paths["docx"])).core_properties.title == "Minutes"
    assert docx.Document(str(paths["docx"])).paragraphs[0].text == "An AI-written paragraph."
    book = openpyxl.load_workbook(paths["xlsx"])
    assert book.active["A1"].value == 42
    assert {p.name: p.value for p in book.custom_doc_props.props} == {
        "Department": "R&D", "AIGC": FIRST.to_json()}
    assert pptx.Presentation(str(paths["pptx"])).slides[0].shapes.title.text == "Hello"


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx", "docx-custom"])
def test_exiftool_reads_the_custom_property(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"labelled.{kind.split('-')[0]}"
    path.write_bytes(relabel(relabel(KINDS[kind](), SECOND)))
    seen = exiftool_json(path, "XML:all")
    assert seen["XML:AIGC"] == FIRST.to_json()
    if kind == "xlsx":
        assert seen["XML:Department"] == "R&D"
    if kind == "docx-custom":
        assert seen["XML:Client"] == "ACME & Co"


def _with_custom(custom: bytes) -> bytes:
    return rezip(_docx_with_custom(), {"docProps/custom.xml": custom})


def test_other_aigc_properties_are_sites_and_one_remains() -> None:
    custom = CUSTOM_WITH_OTHERS.replace(b"</Properties>", (
        b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="aigc_old">'
        b'<vt:lpwstr>x</vt:lpwstr></property><property fmtid='
        b'"{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="4" name="AIGC"><vt:lpstr>y</vt:lpstr>'
        b"</property></Properties>"))
    data = _with_custom(custom)
    found = {s.raw: [f.code for f in s.findings] for s in ooxml.read(io.BytesIO(data))}
    assert found == {"x": ["nonstandard-key"], "y": ["ooxml-value-type"]}
    labelled = relabel(data)
    props = custom_properties(labelled)
    assert [p for p in props if "AIGC" in p[0].upper()] == [
        ("AIGC", "4", "lpwstr", FIRST.to_json())]  # rewritten in place, keeping its pid
    assert [p[0] for p in props] == ["Client", "Pages", "AIGC"]


def test_self_closing_properties_root_and_missing_rels_part() -> None:
    empty = (b'<?xml version="1.0"?><Properties xmlns="' + ooxml.CP_NS.encode() + b'"/>')
    data = rezip(_docx_with_custom(), {"docProps/custom.xml": empty, "_rels/.rels": None})
    labelled = relabel(data)
    assert custom_properties(labelled) == [("AIGC", "2", "lpwstr", FIRST.to_json())]
    with zipfile.ZipFile(io.BytesIO(labelled)) as z:
        rels = ET.fromstring(z.read("_rels/.rels"))
    assert [r.get("Target") for r in rels] == ["docProps/custom.xml"]


def test_relationship_target_is_followed() -> None:
    with zipfile.ZipFile(io.BytesIO(_docx())) as z:
        rels = z.read("_rels/.rels").replace(
            b"</Relationships>", b'<Relationship Id="rId9" Type="' + ooxml.CUSTOM_REL.encode()
            + b'" Target="meta/props%20custom.xml"/></Relationships>')
    data = rezip(_docx(), {"_rels/.rels": rels, "meta/props custom.xml": CUSTOM_WITH_OTHERS})
    labelled = relabel(data)
    with zipfile.ZipFile(io.BytesIO(labelled)) as z:
        assert b"AIGC" in z.read("meta/props custom.xml")
        assert "docProps/custom.xml" not in z.namelist()
        assert b'PartName="/meta/props custom.xml"' in z.read("[Content_Types].xml")
    assert [s.raw for s in ooxml.read(io.BytesIO(labelled))] == [FIRST.to_json()]


def test_sniff() -> None:
    assert ooxml.sniff(_docx()[:64])
    assert not ooxml.sniff(b"%PDF-1.7\n")


# --- bad input -----------------------------------------------------------------------------


def test_plain_zip_is_not_ooxml() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("notes.txt", "hello")
    for action in (lambda d: ooxml.read(io.BytesIO(d)), relabel):
        with pytest.raises(UnsupportedFormat, match="not an OOXML package"):
            action(out.getvalue())


@pytest.mark.parametrize("custom", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b'<Properties xmlns="' + ooxml.CP_NS.encode() + b'">&b;</Properties>',
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><Properties/>',
    b"<Properties><unclosed></Properties>",
    b"\xff\xfe\x00garbage",
])
def test_hostile_or_broken_xml_is_malformed(custom: bytes) -> None:
    data = _with_custom(custom)
    with pytest.raises(MalformedFile):
        ooxml.read(io.BytesIO(data))
    with pytest.raises(MalformedFile):
        relabel(data)


def test_utf16_custom_part_is_read_but_not_written() -> None:
    text = CUSTOM_WITH_OTHERS.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    data = _with_custom(text.encode("utf-16"))
    assert ooxml.read(io.BytesIO(data)) == []
    with pytest.raises(UnsupportedFormat, match="UTF-16"):
        relabel(data)


def test_oversized_part_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _with_custom(CUSTOM_WITH_OTHERS + b" " * 5000)
    monkeypatch.setattr(ooxml, "MAX_PART_BYTES", 4096)
    with pytest.raises(MalformedFile, match="limit"):
        ooxml.read(io.BytesIO(data))


def central_entry(data: bytes, name: str) -> int:
    """Offset of `name`'s central directory record, found by walking the directory."""
    (pos,) = struct.unpack_from("<L", data, data.rindex(b"PK\x05\x06") + 16)
    while data[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46:pos + 46 + name_len] == name.encode():
            return pos
        pos += 46 + name_len + extra_len + comment_len
    raise AssertionError(f"{name} not in the central directory")


@pytest.mark.parametrize("declared", [100, 2**31])
def test_lying_uncompressed_size_is_malformed(declared: int) -> None:
    data = bytearray(_with_custom(CUSTOM_WITH_OTHERS + b" " * 100_000))
    at = central_entry(bytes(data), "docProps/custom.xml")
    data[at + 24:at + 28] = struct.pack("<L", declared)
    with pytest.raises(MalformedFile, match=r"CRC|size|limit"):
        ooxml.read(io.BytesIO(bytes(data)))


def test_stored_part_larger_than_it_declares_is_not_read_whole() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_docx_with_custom())) as src, \
            zipfile.ZipFile(out, "w") as dst:  # every member stored, not deflated
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(info.filename, content + (b" " * 200_000 if info.filename ==
                                                   "docProps/custom.xml" else b""))
    data = bytearray(out.getvalue())
    at = central_entry(bytes(data), "docProps/custom.xml")
    data[at + 24:at + 28] = struct.pack("<L", 10)  # 10 bytes, from a much larger record
    with pytest.raises(MalformedFile, match="limit"):
        ooxml.read(io.BytesIO(bytes(data)))


def test_compressed_size_past_the_directory_is_malformed() -> None:
    data = bytearray(_docx())
    at = central_entry(bytes(data), "word/document.xml")
    data[at + 20:at + 24] = struct.pack("<L", 2**31)
    with pytest.raises(MalformedFile, match="runs past"):
        ooxml.read(io.BytesIO(bytes(data)))


def test_member_count_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ooxml, "MAX_MEMBERS", 5)
    with pytest.raises(MalformedFile, match="limit 5 entries"):
        ooxml.read(io.BytesIO(_docx()))


def test_overlapping_members_are_refused() -> None:
    data = bytearray(_docx())
    first = central_entry(bytes(data), "[Content_Types].xml")
    second = central_entry(bytes(data), "word/document.xml")
    data[second + 42:second + 46] = data[first + 42:first + 46]  # both at one offset
    with pytest.raises(MalformedFile):
        ooxml.read(io.BytesIO(bytes(data)))


def test_duplicate_member_names_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with pytest.warns(UserWarning):
            z.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(MalformedFile, match="two members"):
        ooxml.read(io.BytesIO(out.getvalue()))


def test_truncated_packages_are_refused() -> None:
    data = _docx()
    for cut in range(0, len(data) - 1, max(1, len(data) // 60)):
        with pytest.raises(SynthGuardError):
            relabel(data[:cut])


@pytest.mark.parametrize("data", [b"PK\x03\x04" + b"\x00" * 100, b"PK\x05\x06" + b"\xff" * 18,
                                  b"", b"garbage" * 100])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(SynthGuardError):
        ooxml.read(io.BytesIO(data))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_raise_only_synthguard_errors(data: st.DataObject) -> None:
    original = bytearray(KINDS[data.draw(st.sampled_from(["xlsx", "docx-custom"]))]())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    try:
        labelled = relabel(bytes(original))
    except SynthGuardError:
        return
    assert [s.raw for s in ooxml.read(io.BytesIO(labelled))] == [FIRST.to_json()]


# --- library API ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_api_labels_and_inspects_a_package(kind: str, tmp_path: Path) -> None:
    source, out = tmp_path / f"in.{kind}", tmp_path / f"out.{kind}"
    source.write_bytes(KINDS[kind]())
    assert synthguard.inspect(source).verdict == "not_found"
    report = synthguard.label(source, out, producer=FIRST.content_producer,
                              produce_id=FIRST.produce_id)
    assert (report.format, report.verdict) == ("ooxml", "compliant")
    assert synthguard.inspect(out).label == FIRST


def test_api_verdicts(tmp_path: Path) -> None:
    two = tmp_path / "two.docx"
    two.write_bytes(_with_custom(CUSTOM_WITH_OTHERS.replace(b"</Properties>", (
        b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="AIGC">'
        b"<vt:lpwstr>" + SECOND.to_json().encode() + b"</vt:lpwstr>"
        b'</property><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="4" '
        b'name="AIGC2"><vt:lpwstr>x</vt:lpwstr></property></Properties>'))))
    assert synthguard.inspect(two).verdict == "noncompliant"  # §6.1 c): one label only
    cut = tmp_path / "cut.docx"
    cut.write_bytes(two.read_bytes()[:-30])
    assert synthguard.inspect(cut).verdict == "inconclusive"
    synthguard.label(two, producer=FIRST.content_producer, produce_id=FIRST.produce_id)
    assert synthguard.inspect(two).verdict == "compliant"
