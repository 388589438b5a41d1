"""Fuzz target for the OOXML carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import zipfile

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import ooxml

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")

_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="'
          'http://schemas.openxmlformats.org/package/2006/content-types"><Default '
          'Extension="xml" ContentType="application/xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="'
         'http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
         'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="word/document.xml"/></Relationships>')
_CUSTOM = (f'<Properties xmlns="{ooxml.CP_NS}" xmlns:vt="{ooxml.VT_NS}"><property '
           'fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Client">'
           "<vt:lpwstr>ACME</vt:lpwstr></property></Properties>")


def target(data: bytes) -> None:
    try:
        ooxml.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        ooxml.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _package(members: dict[str, str], method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return out.getvalue()


def seeds() -> list[bytes]:
    """Minimal packages made with zipfile (small, so mutations reach the structure):
    stored and deflated, with and without a custom properties part, and a labelled one."""
    base = {"[Content_Types].xml": _TYPES, "_rels/.rels": _RELS,
            "word/document.xml": "<w:document xmlns:w='urn:w'/>"}
    out = [_package(base, zipfile.ZIP_STORED),
           _package({**base, "docProps/custom.xml": _CUSTOM}, zipfile.ZIP_DEFLATED)]
    labelled = io.BytesIO()
    ooxml.write(io.BytesIO(out[1]), labelled, LABEL)
    out.append(labelled.getvalue())
    return out
