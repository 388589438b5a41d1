"""Watermarking audio files: decode, embed, re-encode in the same format, verify, rename.

Decoding and encoding are `explicit.audio_io`'s, so a watermarked file keeps its
container, codec, sample rate, channel layout, tags and cover art exactly as an audible
notice would: lossless content (WAV, FLAC, ALAC) is written back in its own sample
format, lossy content is re-encoded once at about its own bitrate. Like the image mark,
this runs *before* the metadata label is written (audio_io does not carry an old AIGC
label over). The whole decoded signal is held in memory (8 bytes per sample and channel).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from synthguard._atomic import atomic_output, commit
from synthguard.errors import UnsupportedFormat, VerificationFailed
from synthguard.explicit.audio_io import (
    FRAME_SAMPLES,
    AudioInput,
    Shape,
    Spliced,
    carrier_format,
    splice,
    verify_output,
)
from synthguard.watermark.audio import (
    MIN_SECONDS,
    PLACEMENTS,
    Detection,
    detect_audio,
    embed_audio_checked,
)
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload

FloatArray = npt.NDArray[np.float64]
_INTEGER_TYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64}


def _to_float(frame: av.AudioFrame) -> FloatArray:
    """One decoded frame as (samples, channels) floats, full scale 1.0."""
    fmt = frame.format
    channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    data = data.T if fmt.is_planar else data.reshape(-1, channels)
    kind = fmt.packed.name
    if kind in ("flt", "dbl"):
        return np.asarray(data, dtype=np.float64)
    full = 2.0 ** (8 * fmt.bytes - 1)
    values = data.astype(np.float64)
    return (values - 128.0) / 128.0 if kind == "u8" else values / full


def decode_samples(frames: Iterable[av.AudioFrame]) -> FloatArray:
    chunks = [_to_float(frame) for frame in frames]
    return np.concatenate(chunks) if chunks else np.zeros((0, 1))


def _from_float(samples: FloatArray, shape: Shape) -> Iterator[av.AudioFrame]:
    """(samples, channels) floats as frames in the content's own sample format."""
    fmt = av.AudioFormat(shape.format)
    kind = fmt.packed.name
    data: npt.NDArray[Any]
    if kind in ("flt", "dbl"):
        data = np.clip(samples, -1.0, 1.0).astype(np.float32 if kind == "flt" else np.float64)
    else:
        # As audio_io: 32-bit containers mostly hold 24-bit audio, kept at 24 bits so the
        # FLAC/ALAC/WAV encoders store it exactly.
        step = 256.0 if kind == "s32" else 1.0
        full = 2.0 ** (8 * fmt.bytes - 1)
        ints = np.clip(np.round(samples * full / step) * step, -full, full - step)
        data = (ints + 128).astype(np.uint8) if kind == "u8" else ints.astype(
            _INTEGER_TYPES[kind])
    for start in range(0, len(data), FRAME_SAMPLES):
        chunk = data[start:start + FRAME_SAMPLES]
        planes = chunk.T if fmt.is_planar else chunk.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format=shape.format,
                                           layout=shape.layout)
        frame.sample_rate = shape.rate
        yield frame


class WatermarkingInput(AudioInput):
    """An input whose content, once replaced, is the marked signal: `splice` then writes
    it with the input's own encoder, container, tags and pictures. The audible notice
    (explicit.audio) splices its prompt around the marked content this way, so marked
    audio goes through one lossy encode, not two."""

    def __init__(self, path: Path, fmt: str) -> None:
        super().__init__(path, fmt)
        self.original: FloatArray | None = None  # decoded once, marked as often as asked
        self.marked: FloatArray | None = None

    def content(self) -> Iterator[av.AudioFrame]:
        if self.marked is None:
            yield from super().content()
        else:
            yield from _from_float(self.marked, self.shape)

    def embed(self, content_id: int, key: WatermarkKey, *, strength: float = 1.0,
              head: FloatArray | None = None, tail: FloatArray | None = None,
              placement: int = 0) -> tuple[FloatArray, FloatArray]:
        """Decode the content and replace it with its marked version (raises
        UnsupportedFormat for audio that cannot carry the mark, e.g. under a second); the
        mark is read back in memory and remade at a narrower step if it does not decode
        (`embed_audio_checked`).

        `head` and `tail` are mono signals the caller will write before and after the
        content (an audible notice): the mark is made on the whole as it will be
        published, since a loud notice next to marked content changes what the detector
        reads as loud and quiet (a mark made on the content alone then failed to decode
        in about one gateway speech reply in ten). Returns them marked. `placement` is
        `embed_audio`'s."""
        if self.original is None:
            self.original = decode_samples(super().content())
        samples = self.original
        rate, payload = self.shape.rate, Payload(key.key_id, content_id)
        if len(samples) < MIN_SECONDS * rate:  # the content itself, whatever the notice
            raise UnsupportedFormat(
                f"{self.path}: audio shorter than {MIN_SECONDS} s cannot carry a watermark")
        before = np.zeros(0) if head is None else head
        after = np.zeros(0) if tail is None else tail
        channels = samples.shape[1]
        whole = np.concatenate([np.repeat(before[:, None], channels, axis=1), samples,
                                np.repeat(after[:, None], channels, axis=1)])
        try:
            marked = embed_audio_checked(whole, rate, payload, key, strength=strength,
                                         placement=placement)
        except ValueError as error:
            raise UnsupportedFormat(f"{self.path}: {error}") from None
        end = len(before) + len(samples)
        self.marked = marked[len(before):end]
        # The notice is the same in every channel, and so is its residual.
        return marked[:len(before), 0], marked[end:, 0]


def splice_marked(inp: WatermarkingInput, dst: Path, mode_from: Path, content_id: int,
                  key: WatermarkKey, *, strength: float = 1.0,
                  head: FloatArray | None = None, tail: FloatArray | None = None,
                  placement: int = 0) -> tuple[Path, Spliced, Detection]:
    """Mark `inp`'s content (and `head` and `tail`, the notice around it) and encode it
    into a temporary file beside `dst`, for the caller to verify and `commit`; returns it
    with its layout and the detection run on it.

    The in-memory read-back cannot see what a lossy encoder does: 28 in 100 Opus files of
    the gateway's demo voice (2 in 100 MP3 files), re-encoded at their own bitrate, lost
    their payload to it. So the file as written is read back, and the mark placed again
    (up to PLACEMENTS times) while its payload does not decode: none of 200 Opus files
    lost it then. `placement` is the first one tried. Raises UnsupportedFormat for audio
    that cannot carry the mark."""
    before = np.zeros(0) if head is None else head
    after = np.zeros(0) if tail is None else tail
    keyring = KeyRing([key])
    while True:
        marked_head, marked_tail = inp.embed(content_id, key, strength=strength, head=before,
                                             tail=after, placement=placement)
        with atomic_output(dst, mode_from=mode_from) as (out, tmp):
            spliced = splice(inp, out, marked_head, marked_tail)
        try:
            verify_output(tmp, dst, inp.shape)
            detection = detect_audio_file(tmp, keyring)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        placement += 1
        if detection.content_id == content_id or placement >= PLACEMENTS:
            return tmp, spliced, detection
        tmp.unlink()


def watermark_audio_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    content_id: int,
    key: WatermarkKey,
    *,
    strength: float = 1.0,
    verify: bool = True,
    placement: int = 0,
) -> Detection:
    """Write `src` to `dst` (same format) with `content_id` watermarked under `key`,
    placed as `splice_marked` says from `placement` on.

    Returns the detection run on the written file. With `verify`, a file whose mark does
    not read back with the right payload raises VerificationFailed and `dst` is untouched.
    """
    src_path, dst_path = Path(src), Path(dst)
    if dst_path.is_dir():
        raise UnsupportedFormat(f"{dst_path}: output path is a directory")
    fmt = carrier_format(src_path)
    inp = WatermarkingInput(src_path, fmt)
    with inp:
        tmp, _, detection = splice_marked(inp, dst_path, src_path, content_id, key,
                                          strength=strength, placement=placement)
    try:
        if verify and detection.content_id != content_id:
            raise VerificationFailed(
                f"{dst_path}: the watermark did not read back from the written file "
                f"(z={detection.z_score:.1f}); the audio may be too short, too quiet or "
                "too heavily compressed")
        commit(tmp, dst_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return detection


def detect_audio_file(path: str | os.PathLike[str], keyring: KeyRing) -> Detection:
    """Detect a watermark in an audio file of any format the label carriers read."""
    file = Path(path)
    with AudioInput(file, carrier_format(file)) as inp:
        samples = decode_samples(inp.content())
        return detect_audio(samples, inp.shape.rate, keyring)
