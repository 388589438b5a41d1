"""PNG/APNG carrier: XMP TC260:AIGC in iTXt, and the tEXt/zTXt/iTXt `AIGC` keyword sites.

Fixtures are made by Pillow (plus a tiny Adam7 encoder below, since Pillow cannot
write interlaced PNG); exiftool is the independent reader. The chunk parser here is
deliberately separate from the carrier's, so a bug there cannot hide itself.
"""

from __future__ import annotations

import io
import json
import random
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageSequence, PngImagePlugin

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import Site, png
from tests.tools import exiftool_json, exiftool_xmp_aigc

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0001")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0002",
                          propagator="PLATFORM42", propagate_id="p-77", reserved_code2="sig")
SIG = b"\x89PNG\r\n\x1a\n"
XMP_KEY = b"XML:com.adobe.xmp"
OTHER_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PaintBox 3">'
    '<dc:format>image/png</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>'
)
Chunks = list[tuple[bytes, bytes]]


# --- an independent chunk codec ------------------------------------------------------------


def chunks(data: bytes) -> Chunks:
    assert data[:8] == SIG
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert data[pos + 8 + length:pos + 12 + length] == struct.pack(
            ">I", zlib.crc32(ctype + body)), f"bad CRC in {ctype!r}"
        out.append((ctype, body))
        pos += 12 + length
    return out


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body))


def assemble(parts: Chunks) -> bytes:
    return SIG + b"".join(chunk(t, b) for t, b in parts)


def is_label_chunk(ctype: bytes, body: bytes) -> bool:
    keyword = body.split(b"\x00", 1)[0]
    return ctype in (b"tEXt", b"zTXt", b"iTXt") and (
        keyword.upper() == b"AIGC" or (ctype == b"iTXt" and keyword == XMP_KEY))


# --- fixtures ------------------------------------------------------------------------------


def _noise(mode: str, size: tuple[int, int] = (24, 16), seed: int = 45438) -> Image.Image:
    rng = random.Random(seed)
    probe = Image.new(mode, (1, 1))
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(probe.tobytes())))


def _icc() -> bytes:
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


def _info(**text: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return info


def _palette(out: io.BytesIO) -> None:
    image = _noise("L").point(lambda v: v % 16).convert("P")
    image.putpalette([i * 16 for i in range(16) for _ in range(3)])
    image.save(out, "PNG", transparency=3)


def _apng(out: io.BytesIO, default_image: bool = False) -> None:
    frames = [_noise("RGBA", seed=s) for s in range(3)]
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=80, loop=0,
                   default_image=default_image)


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2))


def interlaced_png(image: Image.Image) -> bytes:
    """An Adam7-interlaced 8-bit RGB PNG, filter type 0, IDAT split in two chunks."""
    width, height = image.size
    pixels = image.tobytes()
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        for y in range(y0, height, dy):
            row = b"".join(pixels[(y * width + x) * 3:(y * width + x) * 3 + 3]
                           for x in range(x0, width, dx))
            if row:
                raw += b"\x00" + row
    data = zlib.compress(bytes(raw))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return assemble([(b"IHDR", ihdr), (b"IDAT", data[:20]), (b"IDAT", data[20:]),
                     (b"IEND", b"")])


def _xmp_info(compressed: bool) -> PngImagePlugin.PngInfo:
    info = _info(Comment="shot at dawn")
    info.add_itxt("XML:com.adobe.xmp", OTHER_XMP, zip=compressed)
    return info


KINDS: dict[str, Callable[[io.BytesIO], object]] = {
    "rgb": lambda out: _noise("RGB").save(out, "PNG"),
    "rgba": lambda out: _noise("RGBA").save(out, "PNG"),
    "palette": _palette,
    "gray": lambda out: _noise("L").save(out, "PNG"),
    "gray-alpha": lambda out: _noise("LA").save(out, "PNG"),
    "gray16": lambda out: _noise("I;16").save(out, "PNG"),
    "interlaced": lambda out: out.write(interlaced_png(_noise("RGB", (13, 11)))),
    "apng": _apng,
    "apng-default-image": lambda out: _apng(out, default_image=True),
    "text-icc": lambda out: _noise("RGB").save(out, "PNG", icc_profile=_icc(),
                                               pnginfo=_info(Comment="shot at dawn")),
    "xmp": lambda out: _noise("RGB").save(out, "PNG", pnginfo=_xmp_info(False)),
    "xmp-compressed": lambda out: _noise("RGB").save(out, "PNG", pnginfo=_xmp_info(True)),
}


def make(kind: str) -> bytes:
    out = io.BytesIO()
    KINDS[kind](out)
    return out.getvalue()


def relabel(data: bytes, label: AIGCLabel = FIRST) -> bytes:
    out = io.BytesIO()
    png.write(io.BytesIO(data), out, label)
    return out.getvalue()


def sites(data: bytes) -> list[Site]:
    return png.read(io.BytesIO(data))


def frames(data: bytes) -> list[tuple[str, bytes]]:
    with Image.open(io.BytesIO(data)) as image:
        return [(f.mode, f.convert("RGBA").tobytes() if f.mode == "P" else f.tobytes())
                for f in ImageSequence.Iterator(image)]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_label_keeps_pixels_and_every_other_chunk(kind: str) -> None:
    original = make(kind)
    once = relabel(original, SECOND)
    twice = relabel(once, FIRST)

    assert frames(twice) == frames(original)
    # Byte preservation: every chunk but the label chunks is identical and in order.
    kept = [c for c in chunks(original) if not is_label_chunk(*c)]
    assert [c for c in chunks(twice) if not is_label_chunk(*c)] == kept

    found = sites(twice)
    assert [s.carrier for s in found] == ["xmp"]
    assert json.loads(found[0].raw) == FIRST.fields()
    assert found[0].findings == []
    # The new label sits in the header, before any frame data, uncompressed.
    types = [t for t, _ in chunks(twice)]
    xmp_at = next(i for i, (t, b) in enumerate(chunks(twice)) if is_label_chunk(t, b))
    assert types[0] == b"IHDR"
    assert xmp_at < min(types.index(t) for t in (b"IDAT", b"fcTL") if t in types)
    body = chunks(twice)[xmp_at][1]
    assert body.startswith(XMP_KEY + b"\x00\x00\x00\x00\x00<?xpacket")
    assert relabel(twice, FIRST) == twice  # relabelling with the same label is stable


@pytest.mark.interop
@pytest.mark.parametrize("kind", ["rgb", "apng", "interlaced", "text-icc", "xmp-compressed"])
def test_exiftool_reads_our_label(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.png"
    path.write_bytes(relabel(relabel(make(kind), SECOND)))
    value = exiftool_xmp_aigc(path)
    assert value is not None
    assert json.loads(value) == FIRST.fields()
    assert "Warning" not in exiftool_json(path, "Warning")


@pytest.mark.interop
def test_other_metadata_survives_for_exiftool(tmp_path: Path) -> None:
    source = tmp_path / "source.png"
    _noise("RGB").save(source, "PNG", icc_profile=_icc(), pnginfo=_xmp_info(True))
    labeled = tmp_path / "labeled.png"
    labeled.write_bytes(relabel(source.read_bytes()))
    before = exiftool_json(source, "PNG:Comment", "ICC_Profile:ProfileDescription",
                           "XMP-dc:Format", "XMP-xmp:CreatorTool")
    after = exiftool_json(labeled, "PNG:Comment", "ICC_Profile:ProfileDescription",
                          "XMP-dc:Format", "XMP-xmp:CreatorTool")
    del before["SourceFile"], after["SourceFile"]
    assert after == before
    assert after["PNG:Comment"] == "shot at dawn"
    assert after["XMP-xmp:CreatorTool"] == "PaintBox 3"


def test_existing_xmp_chunk_is_replaced_in_place() -> None:
    original = make("xmp")
    index = next(i for i, c in enumerate(chunks(original)) if is_label_chunk(*c))
    labeled = chunks(relabel(original))
    assert is_label_chunk(*labeled[index])
    packet = labeled[index][1]
    assert b"PaintBox 3" in packet and b"image/png" in packet


def test_compressed_xmp_is_read_and_rewritten_plain() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _packet(f'<TC260:AIGC>{SECOND.to_json()}</TC260:AIGC>'),
                  zip=True)
    out = io.BytesIO()
    _noise("RGB").save(out, "PNG", pnginfo=info)
    found = sites(out.getvalue())
    assert json.loads(found[0].raw) == SECOND.fields()
    assert [f.code for f in found[0].findings] == ["compressed-xmp"]
    assert [json.loads(s.raw) for s in sites(relabel(out.getvalue()))] == [FIRST.fields()]


@pytest.mark.parametrize(("add", "carrier"), [
    (lambda info, v: info.add_text("AIGC", v), "png:tEXt"),
    (lambda info, v: info.add_text("AIGC", v, zip=True), "png:zTXt"),
    (lambda info, v: info.add_itxt("AIGC", v), "png:iTXt"),
    (lambda info, v: info.add_itxt("AIGC", v, zip=True), "png:iTXt"),
])
def test_keyword_chunk_is_a_site_and_is_replaced_by_xmp(
        add: Callable[[PngImagePlugin.PngInfo, str], None], carrier: str) -> None:
    info = _info(Comment="kept")
    add(info, SECOND.to_json(wrapped=True))
    out = io.BytesIO()
    _noise("RGB").save(out, "PNG", pnginfo=info)
    found = sites(out.getvalue())
    assert [(s.carrier, s.raw, s.findings) for s in found] == [
        (carrier, SECOND.to_json(wrapped=True), [])]

    labeled = relabel(out.getvalue())
    assert [s.carrier for s in sites(labeled)] == ["xmp"]
    assert (b"tEXt", b"Comment\x00kept") in chunks(labeled)


def test_every_site_is_reported_and_one_remains() -> None:
    parts = chunks(make("rgb"))
    extra = [
        (b"tEXt", b"AIGC\x00" + SECOND.to_json(wrapped=True).encode()),
        (b"iTXt", XMP_KEY + b"\x00\x00\x00\x00\x00"
         + _packet(f"<TC260:AIGC>{SECOND.to_json()}</TC260:AIGC>").encode()),
        (b"iTXt", XMP_KEY + b"\x00\x00\x00\x00\x00"
         + _packet(f"<TC260:AIGC>{FIRST.to_json()}</TC260:AIGC>").encode()),
    ]
    data = assemble([parts[0], *extra, *parts[1:]])
    assert sorted(s.carrier for s in sites(data)) == ["png:tEXt", "xmp", "xmp"]
    labeled = relabel(data, SECOND)
    assert [json.loads(s.raw) for s in sites(labeled)] == [SECOND.fields()]
    assert len([c for c in chunks(labeled) if is_label_chunk(*c)]) == 1


def test_label_after_idat_is_found_with_a_warning_and_moved_up() -> None:
    parts = chunks(make("rgb"))
    packet = _packet(f"<TC260:AIGC>{SECOND.to_json()}</TC260:AIGC>").encode()
    late = [(b"iTXt", XMP_KEY + b"\x00\x00\x00\x00\x00" + packet),
            (b"tEXt", b"AIGC\x00" + SECOND.to_json(wrapped=True).encode())]
    data = assemble([*parts[:-1], *late, parts[-1]])
    found = sites(data)
    assert len(found) == 2
    assert all([f.code for f in s.findings] == ["after-idat"] for s in found)
    labeled = chunks(relabel(data))
    types = [t for t, _ in labeled]
    assert types == [t for t, _ in parts[:-2]] + [b"iTXt", b"IDAT", b"IEND"]
    assert sites(assemble(labeled))[0].findings == []


def test_bad_crc_in_a_label_chunk_is_a_finding_and_is_repaired() -> None:
    parts = chunks(make("rgb"))
    good = assemble([parts[0], (b"tEXt", b"AIGC\x00" + FIRST.to_json(wrapped=True).encode()),
                     *parts[1:]])
    crc_at = 8 + 25 + 8 + 5 + len(FIRST.to_json(wrapped=True))
    bad = good[:crc_at] + bytes(b ^ 0xFF for b in good[crc_at:crc_at + 4]) + good[crc_at + 4:]
    (site,) = sites(bad)
    assert [(f.code, f.severity) for f in site.findings] == [("bad-crc", "error")]
    chunks(relabel(bad))  # asserts every CRC of the output


def test_bad_crc_elsewhere_is_copied_as_is() -> None:
    data = bytearray(make("rgb"))
    data[-1] ^= 0xFF  # in IEND's CRC
    assert sites(bytes(data)) == []
    assert relabel(bytes(data)).endswith(bytes(data[-12:]))


def test_trailing_bytes_after_iend_are_kept() -> None:
    data = make("rgb") + b"trailing"
    assert relabel(data).endswith(b"IEND\xaeB`\x82trailing")


def test_xmp_attribute_form_and_foreign_namespace_are_findings() -> None:
    attr = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
            f'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            f'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" '
            f"TC260:AIGC='{FIRST.to_json()}'/></rdf:RDF></x:xmpmeta>")
    foreign = _packet(f"<my:AIGC>{FIRST.to_json()}</my:AIGC>", ns='xmlns:my="urn:mine"')
    for packet, code, severity in ((attr, "xmp-attribute-form", "info"),
                                   (foreign, "xmp-namespace", "error")):
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet)
        out = io.BytesIO()
        _noise("RGB").save(out, "PNG", pnginfo=info)
        (site,) = sites(out.getvalue())
        assert [(f.code, f.severity) for f in site.findings] == [(code, severity)]
        assert json.loads(sites(relabel(out.getvalue()))[0].raw) == FIRST.fields()


def raw_profile(packet: bytes, ctype: bytes = b"zTXt") -> tuple[bytes, bytes]:
    """XMP as older ImageMagick stores it: hex in 72-column lines after a length header."""
    digits = packet.hex()
    text = (b"\nxmp\n" + b"%8d\n" % len(packet)
            + b"\n".join(digits[i:i + 72].encode() for i in range(0, len(digits), 72)) + b"\n")
    if ctype == b"zTXt":
        return ctype, b"Raw profile type xmp\x00\x00" + zlib.compress(text)
    return ctype, b"Raw profile type xmp\x00" + text


@pytest.mark.parametrize("ctype", [b"zTXt", b"tEXt"])
def test_imagemagick_raw_profile_xmp_is_a_site_and_is_folded_into_itxt(ctype: bytes) -> None:
    packet = OTHER_XMP.replace("</rdf:Description>", f'<TC260:AIGC xmlns:TC260='
                               f'"http://www.tc260.org.cn/ns/AIGC/1.0/">{SECOND.to_json()}'
                               f"</TC260:AIGC></rdf:Description>").encode()
    parts = chunks(make("rgb"))
    data = assemble([parts[0], raw_profile(packet, ctype), *parts[1:]])
    (site,) = sites(data)
    assert (site.carrier, json.loads(site.raw)) == ("xmp", SECOND.fields())
    assert [f.code for f in site.findings] == ["xmp-raw-profile"]

    labeled = relabel(data)
    assert [c[0] for c in chunks(labeled) if is_label_chunk(*c)] == [b"iTXt"]
    assert not any(b.startswith(b"Raw profile") for _, b in chunks(labeled))
    assert b"PaintBox 3" in labeled  # the packet's other properties moved with it
    assert [json.loads(s.raw) for s in sites(labeled)] == [FIRST.fields()]


@pytest.mark.interop
def test_exiftool_agrees_on_the_raw_profile_format(tmp_path: Path) -> None:
    path = tmp_path / "raw.png"
    parts = chunks(make("rgb"))
    path.write_bytes(assemble([parts[0], raw_profile(OTHER_XMP.encode()), *parts[1:]]))
    assert exiftool_json(path, "XMP-xmp:CreatorTool")["XMP-xmp:CreatorTool"] == "PaintBox 3"


def test_raw_profile_without_label_is_kept_beside_the_standard_packet() -> None:
    parts = chunks(make("xmp"))
    profile = raw_profile(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    data = assemble([parts[0], profile, *parts[1:]])
    labeled = chunks(relabel(data))
    assert profile in labeled
    assert b"PaintBox 3" in next(b for t, b in labeled if t == b"iTXt")


def test_sniff() -> None:
    assert png.sniff(make("rgb")[:64])
    assert not png.sniff(b"GIF89a" + bytes(58))


def test_unseekable_stream_is_read() -> None:
    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    assert [s.carrier for s in png.read(Pipe(relabel(make("rgb"))))] == ["xmp"]


def _packet(body: str, ns: str = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"') -> str:
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
            f'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            f'{ns}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>')


def test_api_labels_and_inspects_a_png(tmp_path: Path) -> None:
    source = tmp_path / "in.apng"
    source.write_bytes(make("apng"))
    out = tmp_path / "out.apng"
    report = synthguard.label(source, out, producer=FIRST.content_producer,
                              produce_id=FIRST.produce_id)
    assert (report.format, report.verdict) == ("png", "compliant")
    assert synthguard.inspect(out).label == FIRST
    assert frames(out.read_bytes()) == frames(source.read_bytes())


def test_api_verdicts_for_keyword_sites(tmp_path: Path) -> None:
    parts = chunks(make("rgb"))
    one = tmp_path / "one.png"
    one.write_bytes(assemble([parts[0], (b"tEXt", b"AIGC\x00"
                                         + SECOND.to_json(wrapped=True).encode()), *parts[1:]]))
    assert synthguard.inspect(one).verdict == "compliant"  # image guide Annex B form
    two = tmp_path / "two.png"
    two.write_bytes(assemble([parts[0], (b"tEXt", b"AIGC\x00" + SECOND.to_json().encode()),
                              (b"zTXt", b"AIGC\x00\x00" + zlib.compress(FIRST.to_json().encode())),
                              *parts[1:]]))
    assert synthguard.inspect(two).verdict == "noncompliant"  # §6.1 c): one label only
    cut = tmp_path / "cut.png"
    cut.write_bytes(one.read_bytes()[:-20])
    assert synthguard.inspect(cut).verdict == "inconclusive"
    synthguard.label(two, producer=FIRST.content_producer, produce_id=FIRST.produce_id)
    assert synthguard.inspect(two).verdict == "compliant"


# --- hostile input -------------------------------------------------------------------------


def _refused(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        sites(data)
    with pytest.raises(MalformedFile):
        relabel(data)


@pytest.mark.parametrize("data", [b"", b"\x89PNG", b"garbage" * 20, SIG, SIG + bytes(12)],
                         ids=["empty", "short-signature", "garbage", "signature-only",
                              "zero-chunk"])
def test_not_a_png_is_malformed(data: bytes) -> None:
    _refused(data)


@pytest.mark.parametrize("fraction", [i / 40 for i in range(40)])
def test_truncated_anywhere_is_malformed(fraction: float) -> None:
    data = relabel(make("apng"))
    _refused(data[:int(len(data) * fraction)])


def test_truncated_at_every_offset_is_malformed() -> None:
    data = relabel(make("rgb"))
    for cut in range(len(data)):
        with pytest.raises(MalformedFile):
            sites(data[:cut])


@pytest.mark.parametrize("length", [2**31, 2**32 - 1, 10_000],
                         ids=["over-2^31-1", "max", "past-eof"])
def test_lying_chunk_length_is_malformed(length: int) -> None:
    parts = chunks(make("rgb"))
    data = assemble(parts)
    idat_at = data.index(b"IDAT") - 4
    _refused(data[:idat_at] + struct.pack(">I", length) + data[idat_at + 4:])


@pytest.mark.parametrize("parts", [
    [(b"IEND", b"")],
    [(b"IHDR", bytes(12)), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"ID\x00T", b""), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"zTXt", b"AIGC\x00\x01xx"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"zTXt", b"AIGC\x00\x00not zlib"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"zTXt", b"AIGC\x00\x00" + zlib.compress(b"{}" * 50)[:-6]),
     (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"iTXt", b"AIGC\x00\x01"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"iTXt", b"AIGC\x00\x00\x00en"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"iTXt", b"AIGC\x00\x02\x00\x00\x00x"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"tEXt", b"AIGC"), (b"IEND", b"")],
    # broken XML that could hold a label (one that could not is simply no site)
    [(b"IHDR", bytes(13)), (b"iTXt", XMP_KEY + b"\x00\x00\x00\x00\x00<x AIGC"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"tEXt", b"Raw profile type xmp\x00\nxmp\n"), (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"tEXt", b"Raw profile type xmp\x00\nxmp\n 2\nzz\n"),
     (b"IEND", b"")],
    [(b"IHDR", bytes(13)), (b"tEXt", b"Raw profile type xmp\x00\nxmp\n 3\n3c2f\n"),
     (b"IEND", b"")],
], ids=["no-ihdr", "short-ihdr", "bad-type", "ztxt-method", "ztxt-not-zlib", "ztxt-cut",
        "itxt-short", "itxt-unterminated", "itxt-flag", "text-no-separator", "xmp-not-xml",
        "raw-profile-header", "raw-profile-not-hex", "raw-profile-length"])
def test_inconsistent_chunks_are_malformed(parts: Chunks) -> None:
    _refused(assemble(parts))


def test_png_without_idat_cannot_be_labelled() -> None:
    with pytest.raises(MalformedFile, match="IDAT"):
        relabel(assemble([(b"IHDR", bytes(13)), (b"IEND", b"")]))


def test_zlib_bomb_is_refused_within_bounded_memory() -> None:
    inflater = zlib.compressobj(9)
    bomb = b"".join(inflater.compress(bytes(1 << 20)) for _ in range(64)) + inflater.flush()
    parts = chunks(make("rgb"))
    data = assemble([parts[0], (b"zTXt", b"AIGC\x00\x00" + bomb), *parts[1:]])
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFile, match="inflates to more than"):
            sites(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * png.MAX_TEXT_BYTES  # not the 64 MiB the bomb expands to


def test_oversized_label_chunk_is_refused() -> None:
    parts = chunks(make("rgb"))
    data = assemble([parts[0], (b"tEXt", b"AIGC\x00" + bytes(png.MAX_TEXT_BYTES)),
                     *parts[1:]])
    _refused(data)


def test_chunk_count_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = chunks(make("rgb"))
    monkeypatch.setattr(png, "MAX_CHUNKS", 5)
    _refused(assemble([parts[0], *[(b"tIME", bytes(7))] * 5, *parts[1:]]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_raise_only_synthguard_errors(data: st.DataObject) -> None:
    seed = bytearray(data.draw(st.sampled_from(_SEEDS)))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(seed) - 1))
        action = data.draw(st.sampled_from(["set", "delete", "insert", "word"]))
        if action == "set":
            seed[pos] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del seed[pos:pos + data.draw(st.integers(1, 16))]
        elif action == "insert":
            seed[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            seed[pos:pos + 4] = data.draw(st.sampled_from(
                [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"AIGC"]))
        if not seed:
            break
    try:
        png.read(io.BytesIO(bytes(seed)))
        png.write(io.BytesIO(bytes(seed)), io.BytesIO(), FIRST)
    except SynthGuardError:
        pass


def _seeds() -> list[bytes]:
    tagged = chunks(make("rgb"))
    with_text = assemble([tagged[0], (b"zTXt", b"AIGC\x00\x00"
                                      + zlib.compress(FIRST.to_json(wrapped=True).encode())),
                          *tagged[1:]])
    return [relabel(make("xmp-compressed")), with_text, make("apng")]


_SEEDS = _seeds()
