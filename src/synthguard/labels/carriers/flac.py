"""FLAC: the label as `AIGC=<json>` in the VORBIS_COMMENT metadata block.

A FLAC file is `fLaC`, a chain of metadata blocks (1-byte type with the last-block flag
in its top bit, 24-bit big-endian length) and then the audio frames. Only the comment
block changes on a relabel; a PADDING block absorbs the size difference when it can, so
the audio frames keep their offset and an in-place update rewrites only the metadata.
Every other block (STREAMINFO, SEEKTABLE, PICTURE, APPLICATION, CUESHEET) is copied
byte for byte, without loading pictures into memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import vorbiscomment
from synthguard.labels.carriers.base import Site, copy_range, seekable, stream_size
from synthguard.labels.carriers.vorbiscomment import VorbisComment

NAME = "flac"
EXTENSIONS = (".flac",)
WRITABLE = True

MAGIC = b"fLaC"
STREAMINFO, PADDING, VORBIS_COMMENT = 0, 1, 4
BLOCK_NAMES = {0: "STREAMINFO", 1: "PADDING", 2: "APPLICATION", 3: "SEEKTABLE",
               4: "VORBIS_COMMENT", 5: "CUESHEET", 6: "PICTURE"}
MAX_BLOCK_LENGTH = (1 << 24) - 1
MAX_BLOCKS = 4096  # a loop guard: real files have a handful
NEW_PADDING = 1024  # left after a rewrite that had to move the audio, for the next one
MAX_UNSEEKABLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Block:
    type: int
    offset: int  # of the 4-byte block header
    length: int

    @property
    def end(self) -> int:
        return self.offset + 4 + self.length

    @property
    def name(self) -> str:
        return BLOCK_NAMES.get(self.type, f"type-{self.type}")


def sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


def read(src: BinaryIO) -> list[Site]:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "FLAC stream")
    blocks, _ = _walk(src)
    found: list[Site] = []
    for block in blocks:
        if block.type == VORBIS_COMMENT:
            comment = _comment(src, block)
            found += vorbiscomment.sites(comment, f"VORBIS_COMMENT block at offset "
                                                  f"{block.offset}")
    return found


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "FLAC stream")
    blocks, audio_start = _walk(src)
    plan = _plan(src, blocks, audio_start, label)
    dst.write(MAGIC)
    for i, (block, body) in enumerate(plan):
        last = i == len(plan) - 1
        length = block.length if body is None else len(body)
        dst.write(_header(block.type, length, last))
        if body is None:
            copy_range(src, dst, block.offset + 4, block.length)
        else:
            dst.write(body)
    size = src.seek(0, io.SEEK_END)
    copy_range(src, dst, audio_start, size - audio_start)


def update_in_place(rw: BinaryIO, label: AIGCLabel) -> bool:
    """Relabel without moving the audio: possible when a PADDING block absorbs the size
    change and no untouched block has to move. Returns False, the file untouched, when
    the layout does not allow it (the caller then writes a copy)."""
    blocks, audio_start = _walk(rw)
    plan = _plan(rw, blocks, audio_start, label, in_place=True)
    layout: list[tuple[int, Block, bytes | None, int]] = []  # (offset, block, body, length)
    pos = len(MAGIC)
    for block, body in plan:
        length = block.length if body is None else len(body)
        if body is None and block.offset != pos:
            return False
        layout.append((pos, block, body, length))
        pos += 4 + length
    if pos != audio_start:
        return False
    for i, (offset, block, body, length) in enumerate(layout):
        # Every header is rewritten: the last-block flag may move to another block.
        rw.seek(offset)
        rw.write(_header(block.type, length, i == len(layout) - 1))
        if body is not None:
            rw.write(body)
    return True


# --- planning ---------------------------------------------------------------------------

Plan = list[tuple[Block, bytes | None]]  # (block, new body, or None to copy it as it is)


def _plan(src: BinaryIO, blocks: list[Block], audio_start: int, label: AIGCLabel,
          *, in_place: bool = False) -> Plan:
    """The new block list: the first comment block carries the label, later ones lose
    any AIGC entry, and the first PADDING block takes up the size difference."""
    plan: Plan = []
    comment_blocks = [b for b in blocks if b.type == VORBIS_COMMENT]
    for block in blocks:
        if block.type != VORBIS_COMMENT:
            plan.append((block, None))
            continue
        comment = _comment(src, block)
        first = block is comment_blocks[0]
        new = comment.with_label(label.to_json() if first else None)
        plan.append((block, _comment_body(new) if first or new != comment else None))
    if not comment_blocks:
        # STREAMINFO must stay first; the comment goes right after it.
        fresh = VorbisComment(vorbiscomment.DEFAULT_VENDOR).with_label(label.to_json())
        plan.insert(1, (Block(VORBIS_COMMENT, -1, 0), _comment_body(fresh)))

    old_meta = audio_start - len(MAGIC)
    growth = sum(4 + (b.length if body is None else len(body)) for b, body in plan) - old_meta
    padding = next((i for i, (b, _) in enumerate(plan) if b.type == PADDING), None)
    if padding is not None:
        pad_block = plan[padding][0]
        if growth == 4 + pad_block.length:
            del plan[padding]  # the new comment fills the padding block exactly
            return plan
        if pad_block.length - growth >= 0:
            plan[padding] = (pad_block, bytes(pad_block.length - growth))
            return plan
    elif growth <= -4:
        plan.append((Block(PADDING, -1, 0), bytes(-growth - 4)))
        return plan
    if in_place:
        return plan  # the caller sees the size mismatch and falls back to a copy
    if padding is not None:
        plan[padding] = (plan[padding][0], bytes(NEW_PADDING))
    else:
        plan.append((Block(PADDING, -1, 0), bytes(NEW_PADDING)))
    return plan


def _comment_body(comment: VorbisComment) -> bytes:
    body = comment.to_bytes()
    if len(body) > MAX_BLOCK_LENGTH:
        raise UnsupportedFormat(f"FLAC unsupported for writing: the comment block would be "
                                f"{len(body)} bytes, over the 24-bit block length limit")
    return body


def _header(block_type: int, length: int, last: bool) -> bytes:
    return bytes([block_type | (0x80 if last else 0)]) + length.to_bytes(3, "big")


# --- walking ----------------------------------------------------------------------------




def _walk(src: BinaryIO) -> tuple[list[Block], int]:
    """The metadata blocks and the offset of the first audio frame. Every declared
    length is checked against the file size; nothing but block headers is read."""
    size = stream_size(src)
    if src.read(4) != MAGIC:
        raise MalformedFile("not a FLAC file: fLaC signature missing")
    blocks: list[Block] = []
    pos = len(MAGIC)
    while True:
        if len(blocks) >= MAX_BLOCKS:
            raise MalformedFile(f"FLAC has more than {MAX_BLOCKS} metadata blocks")
        src.seek(pos)
        head = src.read(4)
        if len(head) < 4:
            raise MalformedFile(f"truncated FLAC: metadata block header expected at "
                                f"offset {pos}, file has {size} bytes")
        block = Block(head[0] & 0x7F, pos, int.from_bytes(head[1:4], "big"))
        if block.type == 127:
            raise MalformedFile(f"FLAC metadata block at offset {pos} has the invalid type 127")
        if block.end > size:
            raise MalformedFile(f"truncated FLAC: {block.name} block at offset {pos} declares "
                                f"{block.length} bytes, file ends at {size}")
        if not blocks and (block.type != STREAMINFO or block.length != 34):
            raise MalformedFile("FLAC does not start with a 34-byte STREAMINFO block")
        if blocks and block.type == STREAMINFO:
            raise MalformedFile(f"second STREAMINFO block at offset {pos}")
        blocks.append(block)
        pos = block.end
        if head[0] & 0x80:
            return blocks, pos


def _comment(src: BinaryIO, block: Block) -> VorbisComment:
    src.seek(block.offset + 4)
    data = src.read(block.length)
    if len(data) != block.length:
        raise MalformedFile(f"FLAC VORBIS_COMMENT block at offset {block.offset} is truncated")
    return vorbiscomment.parse(data, f"FLAC VORBIS_COMMENT block at offset {block.offset}")
