"""Audio in, audio out, same format: decode a file frame by frame and encode it again with
samples spliced before and after, for `explicit.audio`.

The output has the input's container, codec, sample rate and channel layout. Lossless
content reaches the encoder in its decoded sample format, unchanged, so it is stored bit for
bit as it was; lossy content is re-encoded once, at a bitrate close to the input's. Frames
stream through, so memory does not grow with the file's length. Tags and cover art are
carried over, except an old AIGC label, which the caller writes afresh.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import mutagen
import numpy as np
import soundfile  # type: ignore[import-untyped]
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Disposition, Stream
from numpy.typing import NDArray

from synthguard.errors import MalformedFile, UnsupportedFormat, VerificationFailed
from synthguard.labels.carriers import SNIFF_BYTES, detect

# ffmpeg demuxer for each label carrier that holds audio, and the codecs we can re-encode.
DEMUXERS = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "mp4": "mp4"}
_LOSSLESS = {"flac": "flac", "alac": "alac"}  # decoder -> encoder; plus every pcm_* in WAV
_LOSSY = {"mp3": "libmp3lame", "mp3float": "libmp3lame", "aac": "aac", "opus": "libopus",
          "libopus": "libopus", "vorbis": "vorbis"}
# Bit/s per channel an encoder is given at least and at most (libopus, lame and the ffmpeg
# AAC encoder reject or misbehave outside these; lame also caps at 320 kbit/s in total).
_BITRATE_PER_CHANNEL = {"libmp3lame": (16_000, 160_000), "aac": (16_000, 256_000),
                        "libopus": (6_000, 255_000), "vorbis": (24_000, 250_000)}
_DEFAULT_BITRATE_PER_CHANNEL = 64_000
# libvorbis nominal bit/s per channel at qualities 0, 0.1 ... 1.0 (44.1 kHz stereo / 2):
# the quality that gives about the input's bitrate is read off this curve.
_VORBIS_CURVE = (32_000, 40_000, 48_000, 56_000, 64_000, 80_000, 96_000, 112_000, 128_000,
                 160_000, 250_000)
_DROPPED_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands"}
FRAME_SAMPLES = 4096


@dataclass(frozen=True)
class Shape:
    """What every frame of the content has, and spliced samples must have too."""

    rate: int
    format: str
    layout: str
    channels: int


def shape_of(frame: av.AudioFrame) -> Shape:
    return Shape(frame.sample_rate, frame.format.name, frame.layout.name,
                 len(frame.layout.channels))


def frames_from_signal(mono: NDArray[np.float64], shape: Shape) -> Iterator[av.AudioFrame]:
    """`mono` (full scale 1.0) in every channel, in the content's own sample format."""
    fmt = av.AudioFormat(shape.format)
    kind = fmt.packed.name
    if kind in ("flt", "dbl"):
        samples: NDArray[Any] = mono.astype(np.float32 if kind == "flt" else np.float64)
    else:
        # 32-bit containers mostly hold 24-bit audio (FLAC, ALAC, WAV s24 decode to s32):
        # the prompt gets 24 significant bits so those encoders keep it exactly.
        step = 256.0 if kind == "s32" else 1.0
        full = 2.0 ** (8 * fmt.bytes - 1)
        ints = np.clip(np.round(mono * full / step) * step, -full, full - step)
        samples = (ints + 128).astype(np.uint8) if kind == "u8" else ints.astype(
            {"s16": np.int16, "s32": np.int32, "s64": np.int64}[kind])
    for i in range(0, len(samples), FRAME_SAMPLES):
        chunk = samples[i:i + FRAME_SAMPLES]
        planes = (np.repeat(chunk[None, :], shape.channels, axis=0) if fmt.is_planar
                  else np.repeat(chunk, shape.channels)[None, :])
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format=shape.format,
                                           layout=shape.layout)
        frame.sample_rate = shape.rate
        yield frame


def carrier_format(path: Path) -> str:
    """The label carrier that claims the file: the implicit label must be writable too."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise MalformedFile(f"{path}: empty file")
    carrier = detect(head, path)
    if carrier is None or carrier.NAME not in DEMUXERS:
        what = carrier.NAME if carrier is not None else "unrecognised"
        raise UnsupportedFormat(f"{path}: {what} files are unsupported for audio marking "
                                "(WAV, FLAC, MP3, Ogg Vorbis/Opus, M4A are)")
    return carrier.NAME


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    """Tags to carry over: not the old label (written afresh) nor encoder bookkeeping."""
    return {k: v for k, v in metadata.items()
            if "aigc" not in k.lower() and k.lower() not in _DROPPED_TAGS}


class AudioInput:
    """An open input with one audio stream (and perhaps cover pictures), decoded with the
    demuxer of the format our carrier recognised, so ffmpeg never guesses another."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        try:
            self.container = av.open(str(path), format=DEMUXERS[fmt])
        except av.FFmpegError as exc:
            raise MalformedFile(f"{path}: not a readable {fmt} file: {exc}") from None
        try:
            self.stream, self.pictures = self._streams()
            self.encoder = self._encoder()
            self.picture_packets: list[Packet[Stream]] = []
            self._frames = self._decode()
            first = next(self._frames, None)
            if first is None:
                raise MalformedFile(f"{path}: no audio samples; there is nothing to mark")
        except BaseException:
            if hasattr(self, "_frames"):
                self._frames.close()
            self.container.close()
            raise
        self.first: av.AudioFrame = first
        self.shape = shape_of(first)

    def _streams(self) -> tuple[AudioStream, list[Stream]]:
        streams = list(self.container.streams)
        audio = [s for s in streams if isinstance(s, AudioStream)]
        pictures = [s for s in streams
                    if s.type == "video" and s.disposition & Disposition.attached_pic]
        others = [s for s in streams if s.type != "audio" and s not in pictures]
        if len(audio) != 1 or others:
            what = (f"a {others[0].type} stream" if others else
                    "no audio stream" if not audio else f"{len(audio)} audio streams")
            raise UnsupportedFormat(f"{self.path}: has {what}; only single-stream audio "
                                    "files are supported for marking")
        return audio[0], pictures

    def __enter__(self) -> AudioInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self._frames.close()  # before the container: the generator holds its demuxer
        self.container.close()

    def _encoder(self) -> str:
        decoder = self.stream.codec_context.name
        if self.fmt == "wav" and decoder.startswith("pcm_"):
            return decoder
        if self.fmt != "wav" and decoder in _LOSSLESS:
            return _LOSSLESS[decoder]
        if self.fmt != "wav" and decoder in _LOSSY:
            return _LOSSY[decoder]
        raise UnsupportedFormat(f"{self.path}: {decoder} audio in {self.fmt} is unsupported "
                                "for marking")

    def _decode(self) -> Generator[av.AudioFrame, None, None]:
        try:
            for packet in self.container.demux():
                if packet.stream.index == self.stream.index:
                    yield from self.stream.codec_context.decode(packet)
                elif packet.size and packet.stream in self.pictures:
                    self.picture_packets.append(packet)
        except av.FFmpegError as exc:
            raise MalformedFile(f"{self.path}: cannot decode the audio: {exc}") from None

    def content(self) -> Iterator[av.AudioFrame]:
        """Every decoded frame, from the first; all of the first frame's shape."""
        for frame in itertools.chain([self.first], self._frames):
            if shape_of(frame) != self.shape:
                raise UnsupportedFormat(f"{self.path}: the audio changes sample rate, format "
                                        "or channels mid-stream; unsupported for marking")
            yield frame

    def bitrate(self) -> int:
        """The bitrate for the lossy encoder: the input's, within the encoder's range."""
        stream, channels = self.stream, self.shape.channels
        rate = stream.bit_rate or stream.codec_context.bit_rate or self.container.bit_rate
        rate = rate or _DEFAULT_BITRATE_PER_CHANNEL * channels
        low, high = _BITRATE_PER_CHANNEL[self.encoder]
        rate = max(low * channels, min(high * channels, rate))
        return min(rate, 320_000) if self.encoder == "libmp3lame" else rate


class _AvSink:
    """Encodes with ffmpeg (through PyAV) into the input's container format."""

    def __init__(self, out: BinaryIO, inp: AudioInput) -> None:
        shape, options = inp.shape, {}
        if inp.fmt == "mp4" and "major_brand" in inp.container.metadata:
            # The mp4 muxer with the input's brand (M4A ...): the ipod muxer takes no cover art.
            options["brand"] = inp.container.metadata["major_brand"]
        self.container = av.open(out, "w", format=inp.fmt, options=options)
        self.stream = cast(AudioStream, self.container.add_stream(inp.encoder, rate=shape.rate))
        ctx = self.stream.codec_context
        ctx.layout = shape.layout
        formats = [f.name for f in ctx.codec.audio_formats or ()]
        ctx.format = shape.format if shape.format in formats else formats[0]
        if inp.encoder in _BITRATE_PER_CHANNEL:
            ctx.bit_rate = inp.bitrate()
        # FLAC and ALAC store at most 24 of an s32 sample's bits: refuse to drop the rest.
        self.check_24_bits = inp.encoder in _LOSSLESS and shape.format.startswith("s32")
        self.path = inp.path
        self.container.metadata.update(_tags(dict(inp.container.metadata)))
        self.stream.metadata.update(_tags(dict(inp.stream.metadata)))
        if inp.fmt != "ogg":  # Ogg cover art lives in the comments, copied with them
            for s in inp.pictures:
                target = self.container.add_stream_from_template(s)
                target.disposition = s.disposition
                for packet in inp.picture_packets:
                    if packet.stream.index == s.index:
                        packet.stream = target
                        self.container.mux(packet)
        self.samples = 0

    def write(self, frame: av.AudioFrame) -> None:
        if self.check_24_bits and np.any(np.asarray(frame.to_ndarray(), np.int32) & 0xFF):
            raise UnsupportedFormat(f"{self.path}: samples of more than 24 bits cannot be "
                                    "re-encoded losslessly")
        frame.pts = self.samples
        self.samples += frame.samples
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()


class _VorbisSink:
    """Ogg Vorbis through libsndfile's libvorbis (ffmpeg's own Vorbis encoder is an
    experimental one of poor quality), at the quality that matches the input's bitrate."""

    def __init__(self, out: BinaryIO, inp: AudioInput) -> None:
        shape = inp.shape
        per_channel = inp.bitrate() / shape.channels
        quality = float(np.interp(per_channel, _VORBIS_CURVE, np.linspace(0.0, 1.0, 11)))
        self.file = soundfile.SoundFile(out, "w", samplerate=shape.rate,
                                        channels=shape.channels, format="OGG",
                                        subtype="VORBIS", compression_level=1.0 - quality)
        self.samples = 0

    def write(self, frame: av.AudioFrame) -> None:
        data = frame.to_ndarray().astype(np.float32)
        channels = len(frame.layout.channels)
        self.file.write(data.T if frame.format.is_planar else data.reshape(-1, channels))
        self.samples += frame.samples

    def close(self) -> None:
        self.file.close()


def _copy_ogg_comments(src: Path, out: BinaryIO) -> None:
    """Ogg comments (cover art included) copied in order, but not the old label."""
    try:
        original = mutagen.File(src)
        out.seek(0)
        marked = mutagen.File(out)
    except mutagen.MutagenError as exc:
        raise MalformedFile(f"{src}: unreadable Ogg comments: {exc}") from None
    if original is None or original.tags is None or marked is None or marked.tags is None:
        return
    marked.tags.clear()
    marked.tags.extend([(k, v) for k, v in original.tags
                        if "aigc" not in k.lower() and k.lower() not in _DROPPED_TAGS])
    out.seek(0)
    marked.save(out)


@dataclass(frozen=True)
class Spliced:
    content_start: int  # samples before the content
    content: int  # samples of content


def splice(inp: AudioInput, out: BinaryIO, head: NDArray[np.float64],
           tail: NDArray[np.float64]) -> Spliced:
    """Encode `head`, the whole content, then `tail` into `out`, in the input's format."""
    try:
        sink = _VorbisSink(out, inp) if inp.encoder == "vorbis" else _AvSink(out, inp)
    except (av.FFmpegError, soundfile.LibsndfileError, ValueError) as exc:
        raise UnsupportedFormat(f"{inp.path}: cannot encode {inp.encoder} at {inp.shape.rate} "
                                f"Hz, {inp.shape.channels} channels: {exc}") from None
    try:
        for frame in frames_from_signal(head, inp.shape):
            sink.write(frame)
        start = sink.samples
        for frame in inp.content():
            sink.write(frame)
        content = sink.samples - start
        for frame in frames_from_signal(tail, inp.shape):
            sink.write(frame)
        sink.close()
    except (av.FFmpegError, soundfile.LibsndfileError) as exc:
        raise UnsupportedFormat(f"{inp.path}: the {inp.encoder} encoder failed: {exc}") from None
    if inp.fmt == "ogg":
        _copy_ogg_comments(inp.path, out)
    return Spliced(start, content)


def verify_output(path: Path, dst: Path, shape: Shape) -> None:
    """Read the written file's header back: the stream we meant to write is there."""
    try:
        with av.open(str(path)) as check:
            ctx = check.streams.audio[0].codec_context
            ok = ctx.sample_rate == shape.rate and len(ctx.layout.channels) == shape.channels
    except (av.FFmpegError, IndexError):
        ok = False
    if not ok:
        raise VerificationFailed(f"{dst}: the output did not read back as {shape.rate} Hz, "
                                 f"{shape.channels} channel audio")
