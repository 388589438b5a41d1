"""WAV: the label as a top-level RIFF chunk `AIGC` whose payload is the bare JSON.

Read sites: every `AIGC` chunk (the audio guide's location), an `AIGC` sub-chunk of
`LIST/INFO` (what gtkit/aigc writes), and XMP `TC260:AIGC` in a `_PMX` chunk. RF64 and
BW64 files (64-bit sizes in `ds64`) are read through the same walker.

Write: one `AIGC` chunk, placed immediately before `data`. The Measures define file
metadata as descriptive information "embedded in the file header" (Art. 5 note), and
a reader that streams a WAV stops at `data` (its size may run to the end of the file),
so a label after the samples would be invisible to exactly the readers that matter
for uploads; ffmpeg puts LIST/INFO and BWF puts `bext` in front of `data` for the same
reason. Moving the samples costs nothing here: no WAV chunk holds absolute byte
offsets (`cue ` points are relative to `data`), and we write a copy anyway. Every
other chunk (`fmt `, `data`, `bext`, `iXML`, `ID3 `, `LIST/INFO` without its label,
unknown ones) is copied byte for byte, samples in blocks.
"""

from __future__ import annotations

from typing import BinaryIO

from synthguard.errors import UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import riff
from synthguard.labels.carriers.base import Site

NAME = "wav"
EXTENSIONS = (".wav", ".wave")
WRITABLE = True


def sniff(head: bytes) -> bool:
    return head[:4] in riff.FORMS and head[8:12] == b"WAVE"


def read(src: BinaryIO) -> list[Site]:
    tree = riff.walk(src)
    return riff.label_sites(src, tree, NAME, native_in_info=False)


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    tree = riff.walk(src)
    form = tree.forms[0]
    if form.fourcc != b"RIFF":
        raise UnsupportedFormat(
            f"{form.fourcc.decode()} WAV unsupported for writing: its 64-bit sizes live in "
            "the ds64 chunk, which we do not rewrite")
    entry = riff.encode_chunk(riff.AIGC, label.to_json().encode("ascii"))
    parts: list[bytes | riff.Chunk] = []
    placed = False
    for chunk in form.children:
        if chunk.fourcc == b"data" and not placed:
            parts.append(entry)
            placed = True
        new = riff.without_labels(src, chunk)
        parts.append(chunk if new is None else new)
    if not placed:  # no sample data at all: the label still belongs in the file
        parts.append(entry)
    dst.write(riff.form_header(b"RIFF", form.form, parts))
    riff.write_parts(src, dst, parts)
    riff.copy_range(src, dst, tree.end, tree.file_size - tree.end)
