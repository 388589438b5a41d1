"""Fuzz target for the PDF carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

import pikepdf

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import pdf

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        pdf.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        pdf.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _document(with_xmp: bool) -> pikepdf.Pdf:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(20, 20))
    doc.docinfo["/Title"] = "seed (1)"
    if with_xmp:
        with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta.register_xml_namespace("http://www.tc260.org.cn/ns/AIGC/1.0/", "TC260")
            meta["{http://www.tc260.org.cn/ns/AIGC/1.0/}AIGC"] = LABEL.to_json()
    return doc


def seeds() -> list[bytes]:
    """Small valid files reaching every path: classic xref table with an Info
    dictionary, xref stream with object streams and XMP holding a label, and a
    labelled file (an incremental update on top)."""
    out = []
    for options, with_xmp in (({}, False),
                              ({"object_stream_mode": pikepdf.ObjectStreamMode.generate}, True)):
        buffer = io.BytesIO()
        _document(with_xmp).save(buffer, **options)  # type: ignore[arg-type]
        out.append(buffer.getvalue())
    labelled = io.BytesIO()
    pdf.write(io.BytesIO(out[1]), labelled, LABEL)
    out.append(labelled.getvalue())
    return out
