"""PDF carrier: Info `/AIGC` written as an incremental update; XMP read as a second site.

Fixtures are made by pikepdf (qpdf) in every shape it writes: with and without an Info
dictionary, classic xref tables and xref streams with object streams, linearized, with
XMP, encrypted. A few hand-built files cover what pikepdf will not write (a hex-string
label, lying offsets). Oracles: pikepdf/qpdf (`check_pdf_syntax`, the qpdf --check
steps), exiftool (`PDF:AIGC`), and the byte prefix itself.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, decode
from synthguard.labels.carriers import pdf
from synthguard.labels.xmp import TC260_NS, find_aigc
from tests.tools import exiftool_json

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="doc(1)\"x'")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="doc-2",
                          propagator="PLATFORM42", propagate_id="p-77")
DC = "http://purl.org/dc/elements/1.1/"


def _save(doc: pikepdf.Pdf, **options: object) -> bytes:
    out = io.BytesIO()
    doc.save(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def _doc(pages: int = 2, info: bool = True) -> pikepdf.Pdf:
    doc = pikepdf.new()
    for n in range(pages):
        doc.add_blank_page(page_size=(200, 100))
        content = f"BT /F1 12 Tf 20 50 Td (page {n}) Tj ET".encode()
        doc.pages[n].Contents = doc.make_stream(content)
    if info:
        doc.docinfo["/Title"] = "Quarterly (draft) \\ report"
        doc.docinfo["/Author"] = pikepdf.String("作者")  # a UTF-16BE text string
    return doc


def _with_xmp(label_value: str | None) -> bytes:
    doc = _doc()
    with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = "Quarterly report"
        if label_value is not None:
            meta.register_xml_namespace(TC260_NS, "TC260")
            meta[f"{{{TC260_NS}}}AIGC"] = label_value
    return _save(doc)


KINDS: dict[str, Callable[[], bytes]] = {
    "no-info": lambda: _save(_doc(info=False)),
    "info": lambda: _save(_doc()),
    "xref-stream": lambda: _save(_doc(), object_stream_mode=pikepdf.ObjectStreamMode.generate),
    "xref-stream-no-info": lambda: _save(
        _doc(info=False), object_stream_mode=pikepdf.ObjectStreamMode.generate),
    "linearized": lambda: _save(_doc(), linearize=True),
    "xmp": lambda: _with_xmp(None),
    "xmp-with-label": lambda: _with_xmp(FIRST.to_json()),
    "uncompressed": lambda: _save(_doc(), compress_streams=False, qdf=True),
}


def relabel(data: bytes, label: AIGCLabel = FIRST) -> bytes:
    out = io.BytesIO()
    pdf.write(io.BytesIO(data), out, label)
    return out.getvalue()


def page_contents(data: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(data)) as doc:
        return [page.Contents.read_raw_bytes() for page in doc.pages]


def info_of(data: bytes) -> dict[str, str]:
    with pikepdf.open(io.BytesIO(data)) as doc:
        return {str(k): str(v) for k, v in doc.docinfo.items()}


def qpdf_check(data: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as doc:
        problems: list[str] = doc.check_pdf_syntax()
    return problems


def xmp_aigc(data: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(data)) as doc:
        metadata = doc.Root.get("/Metadata")
        return [] if metadata is None else [v.raw for v in find_aigc(metadata.read_bytes())]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_incremental_update_keeps_the_original_as_prefix(kind: str) -> None:
    original = KINDS[kind]()
    once = relabel(original, SECOND)
    twice = relabel(once, FIRST)

    assert once.startswith(original) and twice.startswith(once)
    assert qpdf_check(twice) == []
    assert page_contents(twice) == page_contents(original)
    with pikepdf.open(io.BytesIO(twice)) as doc:
        assert str(doc.docinfo["/AIGC"]) == FIRST.to_json()
        assert len(doc.pages) == 2
    before, after = info_of(original), info_of(twice)
    assert after.pop("/AIGC") == FIRST.to_json()
    assert after == before  # every other Info entry kept, UTF-16 ones included
    found = pdf.read(io.BytesIO(twice))
    assert [(s.carrier, s.raw, s.findings) for s in found] == [
        ("pdf:Info", FIRST.to_json(), [])]
    assert decode(found[0].raw).ok
    assert xmp_aigc(twice) == []
    assert relabel(twice) == relabel(twice)  # deterministic


@pytest.mark.parametrize("kind", ["info", "no-info", "linearized"])
def test_classic_xref_table_gets_a_table_section(kind: str) -> None:
    original = KINDS[kind]()
    update = relabel(original)[len(original):]
    assert b"\nxref\n" in update and b"/XRef" not in update
    trailer = update[update.index(b"trailer"):]
    prev = re.search(rb"/Prev (\d+)", trailer)
    tail_startxref = re.findall(rb"startxref\s+(\d+)", original)[-1]
    assert prev is not None and prev.group(1) == tail_startxref
    assert re.search(rb"/Root \d+ 0 R", trailer) and re.search(rb"/ID \[", trailer)
    assert update.endswith(b"%%EOF\n")


@pytest.mark.parametrize("kind", ["xref-stream", "xref-stream-no-info"])
def test_xref_stream_file_gets_an_xref_stream_section(kind: str) -> None:
    original = KINDS[kind]()
    update = relabel(original)[len(original):]
    assert b"/Type /XRef" in update and b"\nxref\n" not in update
    with pikepdf.open(io.BytesIO(original + update)) as doc:
        assert int(doc.trailer.Size) > int(pikepdf.open(io.BytesIO(original)).trailer.Size)


def test_label_is_a_literal_string_with_escapes() -> None:
    update = relabel(KINDS["info"]())
    assert b'"ProduceID":"doc\\(1\\)\\\\"x\'"' in update
    assert info_of(KINDS["info"]() + update[len(KINDS["info"]()):])["/AIGC"] == FIRST.to_json()


def test_xmp_label_is_removed_so_one_label_remains() -> None:
    original = KINDS["xmp-with-label"]()
    assert [s.carrier for s in pdf.read(io.BytesIO(original))] == ["xmp"]
    labelled = relabel(original)
    assert xmp_aigc(original) == [FIRST.to_json()]
    assert xmp_aigc(labelled) == []
    with pikepdf.open(io.BytesIO(labelled)) as doc:
        assert str(doc.open_metadata()["dc:title"]) == "Quarterly report"
    assert [s.carrier for s in pdf.read(io.BytesIO(labelled))] == ["pdf:Info"]


def test_xmp_without_label_is_not_rewritten() -> None:
    original = KINDS["xmp"]()
    update = relabel(original)[len(original):]
    assert b"/Metadata" not in update and b"xpacket" not in update


def test_file_objects_work(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(KINDS["xref-stream"]())
    with src.open("rb") as fin, dst.open("wb") as fout:
        pdf.write(fin, fout, FIRST)
    with dst.open("rb") as fin:
        assert [s.raw for s in pdf.read(fin)] == [FIRST.to_json()]


@pytest.mark.parametrize("kind", ["info", "xref-stream", "linearized", "xmp-with-label"])
def test_exiftool_reads_the_info_key(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "labelled.pdf"
    path.write_bytes(relabel(relabel(KINDS[kind](), SECOND)))
    seen = exiftool_json(path)
    assert seen["PDF:AIGC"] == FIRST.to_json()
    if kind != "xmp-with-label":
        assert seen["PDF:Title"] == "Quarterly (draft) \\ report"
    assert not any(k.lower().endswith(":aigc") and k != "PDF:AIGC" for k in seen)


# --- reading -------------------------------------------------------------------------------


def handmade(info: bytes | None, *, startxref: int | None = None, size: int | None = None,
             extra: bytes = b"", metadata: bytes | None = None) -> bytes:
    """A minimal classic-xref PDF built byte by byte, independent of pikepdf's writer.
    `metadata` is a complete stream object body (dictionary and stream), object 4."""
    catalog = b" /Metadata 4 0 R" if metadata is not None else b""
    objects = [b"<< /Type /Catalog /Pages 2 0 R" + catalog + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Resources << >> >>"]
    if metadata is not None:
        objects.append(metadata)
    if info is not None:
        objects.append(info)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f\r\n".encode()
    out += b"".join(f"{o:010d} 00000 n\r\n".encode() for o in offsets)
    info_ref = f" /Info {len(objects)} 0 R".encode() if info is not None else b""
    out += (f"trailer\n<< /Size {size or len(objects) + 1} /Root 1 0 R".encode() + info_ref
            + extra + b" >>\n")
    out += f"startxref\n{xref if startxref is None else startxref}\n%%EOF\n".encode()
    return bytes(out)


def test_handmade_fixture_is_valid() -> None:
    assert qpdf_check(handmade(b"<< /Title (x) >>")) == []


def test_hex_string_label_is_read() -> None:
    data = handmade(b"<< /AIGC <" + FIRST.to_json().encode().hex().encode() + b"> >>")
    assert [s.raw for s in pdf.read(io.BytesIO(data))] == [FIRST.to_json()]
    assert [s.raw for s in pdf.read(io.BytesIO(relabel(data, SECOND)))] == [SECOND.to_json()]


def test_utf16_label_is_decoded_and_the_decoder_flags_the_charset() -> None:
    value = '{"Label":"1","ContentProducer":"某公司","ProduceID":"1"}'
    data = handmade(b"<< /AIGC <feff" + value.encode("utf-16-be").hex().encode() + b"> >>")
    (site,) = pdf.read(io.BytesIO(data))
    assert site.raw == value
    assert any(f.code == "invalid-value" for f in decode(site.raw).findings)


def test_non_string_and_nonstandard_keys_are_sites_with_findings() -> None:
    data = handmade(b"<< /AIGC 42 /aigc (x) /Title (t) >>")
    found = {s.location.split(",")[0]: s for s in pdf.read(io.BytesIO(data))}
    assert set(found) == {"Info dictionary /AIGC", "Info dictionary /aigc"}
    assert [f.code for f in found["Info dictionary /AIGC"].findings] == ["pdf-not-string"]
    assert [f.code for f in found["Info dictionary /aigc"].findings] == ["nonstandard-key"]
    labelled = relabel(data)
    assert [s.raw for s in pdf.read(io.BytesIO(labelled))] == [FIRST.to_json()]
    assert info_of(labelled)["/Title"] == "t"


def test_xmp_attribute_form_and_foreign_namespace_are_findings() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
              b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
              b'xmlns:TC260="' + TC260_NS.encode() + b'" xmlns:o="urn:other/" '
              b'TC260:AIGC="a"><o:AIGC>b</o:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>')
    doc = _doc()
    doc.Root.Metadata = doc.make_stream(packet, Type=pikepdf.Name.Metadata,
                                        Subtype=pikepdf.Name.XML)
    data = _save(doc)
    found = {s.raw: [f.code for f in s.findings] for s in pdf.read(io.BytesIO(data))}
    assert found == {"a": ["xmp-attribute-form"], "b": ["xmp-namespace"]}
    assert [s.carrier for s in pdf.read(io.BytesIO(relabel(data)))] == ["pdf:Info"]


def test_sniff() -> None:
    assert pdf.sniff(KINDS["info"]()[:64])
    assert not pdf.sniff(b"PK\x03\x04" + b"\x00" * 60)


# --- bad input -----------------------------------------------------------------------------


def test_encrypted_pdf_is_refused() -> None:
    doc = _doc()
    locked = _save(doc, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(UnsupportedFormat, match="PDF is encrypted"):
        pdf.read(io.BytesIO(locked))
    open_but_encrypted = _save(_doc(), encryption=pikepdf.Encryption(owner="o", user=""))
    assert pdf.read(io.BytesIO(open_but_encrypted)) == []
    with pytest.raises(UnsupportedFormat, match="PDF is encrypted"):
        relabel(open_but_encrypted)


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7\n", b"%PDF-1.4\n" + b"\x00" * 500,
                                  b"not a pdf at all" * 40, b"%PDF-1.4\nstartxref\n99999\n"])
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        pdf.read(io.BytesIO(data))
    with pytest.raises(MalformedFile):
        relabel(data)


@pytest.mark.parametrize("kind", ["info", "xref-stream"])
def test_truncated_files_are_refused_or_still_whole(kind: str) -> None:
    data = KINDS[kind]()
    for cut in range(0, len(data) - 1, max(1, len(data) // 40)):
        try:
            labelled = relabel(data[:cut])
        except SynthGuardError:
            continue
        # Only a cut inside the final `%%EOF` leaves the structure intact.
        assert cut > len(data) - len(b"%%EOF\n")
        assert qpdf_check(labelled) == []


@pytest.mark.parametrize("startxref", [3, 10**12])
def test_lying_startxref_is_malformed(startxref: int) -> None:
    data = handmade(b"<< >>", startxref=startxref)
    with pytest.raises(MalformedFile):
        pdf.read(io.BytesIO(data))
    with pytest.raises(MalformedFile):
        relabel(data)


def test_huge_declared_size_is_refused() -> None:
    data = handmade(b"<< >>", size=2**31)
    with pytest.raises(SynthGuardError):
        relabel(data)


def test_compressed_xmp_is_read_and_its_label_removed() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
              b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
              b'xmlns:TC260="' + TC260_NS.encode() + b'"><TC260:AIGC>' + b"v"
              + b"</TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>")
    packed = zlib.compress(packet)
    data = handmade(b"<< /Producer (p) >>", metadata=(
        f"<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length {len(packed)} >>\n"
        "stream\n").encode() + packed + b"\nendstream")
    assert qpdf_check(data) == []
    assert [(s.carrier, s.raw) for s in pdf.read(io.BytesIO(data))] == [("xmp", "v")]
    labelled = relabel(data)
    assert qpdf_check(labelled) == []
    assert [s.carrier for s in pdf.read(io.BytesIO(labelled))] == ["pdf:Info"]
    assert info_of(labelled)["/Producer"] == "p"


def _metadata_object(filter_name: str, encoded: bytes) -> bytes:
    return (f"<< /Type /Metadata /Subtype /XML /Filter /{filter_name} /Length {len(encoded)} >>"
            "\nstream\n").encode() + encoded + b"\nendstream"


def test_xmp_in_other_filters_is_decoded_when_small_and_refused_when_large() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
              b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
              b'xmlns:TC260="' + TC260_NS.encode() + b'" TC260:AIGC="v"/></rdf:RDF></x:xmpmeta>')
    small = handmade(b"<< >>", metadata=_metadata_object("ASCIIHexDecode", packet.hex().encode()
                                                         + b">"))
    assert [s.raw for s in pdf.read(io.BytesIO(small))] == ["v"]
    padded = packet + b" " * 8000
    large = handmade(b"<< >>", metadata=_metadata_object("ASCIIHexDecode", padded.hex().encode()
                                                         + b">"))
    with pytest.raises(UnsupportedFormat, match="too large to decode safely"):
        pdf.read(io.BytesIO(large))


def test_flate_bomb_in_xmp_is_refused_within_bounded_memory() -> None:
    bomb = zlib.compress(b"<" + b" " * (64 * 1024 * 1024), 9)
    # Built by hand: qpdf's writer always stores XMP uncompressed.
    data = handmade(b"<< >>", metadata=(
        f"<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length {len(bomb)} >>\n"
        "stream\n").encode() + bomb + b"\nendstream")
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFile, match="limit"):
            pdf.read(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) < 1024 * 1024
    assert peak < 40 * 1024 * 1024


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_raise_only_synthguard_errors(data: st.DataObject) -> None:
    original = bytearray(KINDS[data.draw(st.sampled_from(["info", "xref-stream"]))]())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    try:
        labelled = relabel(bytes(original))
    except SynthGuardError:
        return
    assert labelled.startswith(bytes(original))
    assert [s.raw for s in pdf.read(io.BytesIO(labelled)) if s.carrier == "pdf:Info"] == [
        FIRST.to_json()]


# --- library API ---------------------------------------------------------------------------


def test_api_labels_and_inspects_a_pdf(tmp_path: Path) -> None:
    source, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(KINDS["xmp-with-label"]())
    assert synthguard.inspect(source).verdict == "compliant"  # the XMP site alone
    report = synthguard.label(source, out, producer=SECOND.content_producer,
                              produce_id=SECOND.produce_id, propagator=SECOND.content_propagator,
                              propagate_id=SECOND.propagate_id)
    assert (report.format, report.verdict) == ("pdf", "compliant")
    assert synthguard.inspect(out).label == SECOND
    assert out.read_bytes().startswith(source.read_bytes())


def test_api_verdicts(tmp_path: Path) -> None:
    both = tmp_path / "both.pdf"
    both.write_bytes(handmade(b"<< /AIGC (" + FIRST.to_json().replace("(", "\\(").replace(
        ")", "\\)").encode() + b") /aigc (x) >>"))
    assert synthguard.inspect(both).verdict == "noncompliant"  # §6.1 c): one label only
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(KINDS["info"]())
    assert synthguard.inspect(plain).verdict == "not_found"
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(plain.read_bytes()[:200])
    assert synthguard.inspect(cut).verdict == "inconclusive"
    synthguard.label(both, producer=FIRST.content_producer, produce_id=FIRST.produce_id)
    assert synthguard.inspect(both).verdict == "compliant"
