"""XMP packets: find and set the TC260:AIGC property without disturbing anything else.

The image guide (TC260-PG-20259A) puts the label in property `AIGC` of namespace
`http://www.tc260.org.cn/ns/AIGC/1.0/` (prefix `TC260`). If a packet already exists we
update that one property and keep every other namespace, property and prefix.
Parsing goes through defusedxml with DTDs forbidden: XMP never needs one.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from synthguard.errors import MalformedFile

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
TC260_PREFIX = "TC260"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

MAX_PACKET_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # real XMP nests a handful of levels; the serializer recurses per level
XPACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"

_DEFAULT_PREFIXES = {X_NS: "x", RDF_NS: "rdf", TC260_NS: TC260_PREFIX}

_AIGC = f"{{{TC260_NS}}}AIGC"
_DESC = f"{{{RDF_NS}}}Description"
_RDF = f"{{{RDF_NS}}}RDF"


@dataclass(frozen=True)
class XmpValue:
    """One AIGC property found in a packet."""

    raw: str
    form: Literal["element", "attribute"]
    namespace: str  # TC260_NS when conformant; anything else is reported by the caller


def _parse(packet: bytes) -> tuple[ET.Element, dict[str, str]]:
    """Parse a packet; return its root and the uri -> prefix map it declared."""
    if len(packet) > MAX_PACKET_BYTES:
        raise MalformedFile(f"XMP packet is {len(packet)} bytes, limit {MAX_PACKET_BYTES}")
    data = packet.rstrip(b"\x00 \t\r\n")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    prefixes: dict[str, str] = {}
    root: ET.Element | None = None
    depth = 0
    try:
        for event, item in SafeET.iterparse(io.BytesIO(data),
                                            events=("start", "end", "start-ns"),
                                            forbid_dtd=True):
            if event == "start-ns":
                prefix, uri = item
                prefixes.setdefault(uri, prefix)
            elif event == "end":
                depth -= 1
            else:
                depth += 1
                if depth > MAX_DEPTH:
                    raise MalformedFile(f"XMP packet nests deeper than {MAX_DEPTH} levels")
                if root is None:
                    root = item
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedFile(f"XMP packet is not well-formed XML: {exc}") from None
    if root is None:
        raise MalformedFile("XMP packet has no root element")
    return root, prefixes


def find_aigc(packet: bytes) -> list[XmpValue]:
    """Every AIGC property in the packet: element or attribute form, any namespace."""
    root, _ = _parse(packet)
    found: list[XmpValue] = []
    for elem in root.iter():
        ns, local = _split(elem.tag)
        if local == "AIGC" and ns != RDF_NS:
            found.append(XmpValue("".join(elem.itertext()), "element", ns))
        for key, value in elem.attrib.items():
            ans, alocal = _split(key)
            if alocal == "AIGC" and ans not in ("", RDF_NS):
                found.append(XmpValue(value, "attribute", ans))
    return found


def set_aigc(packet: bytes | None, value: str, *, padding: int = 2048) -> bytes:
    """Return a packet whose only AIGC property is `TC260:AIGC` = `value`.

    Existing AIGC properties (either form, any namespace) are removed; everything else in
    the packet is kept. `padding` bytes of whitespace follow the packet, as XMP writers
    customarily leave, so later in-place edits need not move data.
    """
    if packet is None or not packet.strip(b"\x00 \t\r\n"):
        root = ET.Element(f"{{{X_NS}}}xmpmeta")
        ET.SubElement(root, _RDF)
        prefixes: dict[str, str] = {}
    else:
        root, prefixes = _parse(packet)
    rdf = root if root.tag == _RDF else root.find(f".//{_RDF}")
    if rdf is None:
        if root.tag != f"{{{X_NS}}}xmpmeta":
            raise MalformedFile("XMP packet has neither x:xmpmeta nor rdf:RDF")
        rdf = ET.SubElement(root, _RDF)

    # Update in place: the description that held the label, else one that already
    # holds TC260 properties, else a new description for the namespace.
    target = None
    for desc in rdf.findall(_DESC):
        if any(_split(c.tag)[0] == TC260_NS for c in desc) or any(
                _split(k)[0] == TC260_NS for k in desc.attrib):
            target = desc
            break
    _remove_aigc(root)
    if target is None:
        target = ET.SubElement(rdf, _DESC, {f"{{{RDF_NS}}}about": ""})
    prop = ET.SubElement(target, _AIGC)
    prop.text = value

    return _wrap(_serialize(root, {**_DEFAULT_PREFIXES, **prefixes}), padding)


def remove_aigc(packet: bytes, *, padding: int = 0) -> bytes:
    """The packet without any AIGC property (either form, any namespace), everything else
    kept: for a second packet in a file that must not remain a label site."""
    root, prefixes = _parse(packet)
    _remove_aigc(root)
    return _wrap(_serialize(root, {**_DEFAULT_PREFIXES, **prefixes}), padding)


def fit_packet(packet: bytes, size: int) -> bytes | None:
    """`packet` grown to exactly `size` bytes by widening its trailing padding (the XMP
    way to leave room for in-place edits), or None if it does not fit."""
    end = packet.rfind(b"<?xpacket end")
    if len(packet) > size:
        return None
    if end < 0:
        return packet + b" " * (size - len(packet))
    return packet[:end] + b" " * (size - len(packet)) + packet[end:]


def add_padding(packet: bytes, extra: int) -> bytes:
    """`packet` with `extra` more bytes of padding before its xpacket trailer."""
    padded = fit_packet(packet, len(packet) + extra)
    assert padded is not None  # a size above the packet's own always fits
    return padded


def _wrap(body: str, padding: int) -> bytes:
    return (
        f'<?xpacket begin="\ufeff" id="{XPACKET_ID}"?>'.encode()
        + body.encode("utf-8")
        + b"\n" + b" " * padding + b'\n<?xpacket end="w"?>'
    )


def _remove_aigc(root: ET.Element) -> None:
    for parent in root.iter():
        for child in list(parent):
            ns, local = _split(child.tag)
            if local == "AIGC" and ns != RDF_NS:
                parent.remove(child)
        for key in [k for k in parent.attrib if _split(k)[1] == "AIGC"
                    and _split(k)[0] not in ("", RDF_NS)]:
            del parent.attrib[key]


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


# A tiny serializer, because ElementTree's renames unknown prefixes to ns0, ns1... and
# keeps its prefix registry in global state. XMP readers match by URI, but people read
# packets too, and keeping the producer's prefixes is the polite thing to do.
def _serialize(root: ET.Element, prefixes: dict[str, str]) -> str:
    used: dict[str, str] = {}
    taken = set(prefixes.values())

    def qname(tag: str) -> str:
        ns, local = _split(tag)
        if not ns:
            return local
        if ns == XML_NS:
            return f"xml:{local}"
        if ns not in used:
            prefix = prefixes.get(ns)
            if prefix is None or prefix == "":
                n = 0
                while f"ns{n}" in taken:
                    n += 1
                prefix = f"ns{n}"
                taken.add(prefix)
            used[ns] = prefix
        return f"{used[ns]}:{local}"

    out: list[str] = []

    def emit(elem: ET.Element) -> None:
        name = qname(elem.tag)
        attrs = "".join(f" {qname(k)}={quoteattr(v)}" for k, v in elem.attrib.items())
        out.append(f"<{name}{attrs}{{NS}}" if elem is root else f"<{name}{attrs}")
        if len(elem) or elem.text:
            out.append(">")
            if elem.text:
                out.append(escape(elem.text))
            for child in elem:
                emit(child)
                if child.tail:
                    out.append(escape(child.tail))
            out.append(f"</{name}>")
        else:
            out.append("/>")

    emit(root)
    decls = "".join(f" xmlns:{p}={quoteattr(ns)}" for ns, p in used.items())
    text = "".join(out)
    return text.replace("{NS}", decls, 1)
