"""Audible notices on audio (GB 45438 §5.3): a rhythm prompt 短长短短, a spoken notice, or
both, at the start, the end, or both ends.

The prompt is concatenated with the content, separated by a short silence, rather than
mixed into it: mixing would mask the content under the prompt (and the prompt under the
content), and it would force rescaling wherever the sum clips. Concatenation leaves every
content sample as it was, so lossless files keep their content bit for bit, and the prompt
is heard alone at a fixed level below full scale; the user's audio is never normalised.

The output has the input's container, codec, sample rate and channel layout. Lossless
content is passed to the encoder in its decoded sample format, unchanged; lossy content is
re-encoded once, at a bitrate close to the input's. Decoding and encoding stream frame by
frame, so memory does not grow with the file's length. The implicit metadata label is
written afterwards; with `label=None` a compliant label already in the input is kept.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import av
import mutagen
import numpy as np
import soundfile  # type: ignore[import-untyped]
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Disposition, Stream
from numpy.typing import NDArray

from synthguard._atomic import atomic_output, commit
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.wording import NoticeError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import inspect, write_label
from synthguard.labels.carriers import SNIFF_BYTES, detect

Prompt = Literal["rhythm", "voice", "both"]
Position = Literal["start", "end", "both"]
PROMPTS: tuple[Prompt, ...] = ("rhythm", "voice", "both")
POSITIONS: tuple[Position, ...] = ("start", "end", "both")

MORSE_AI = ".- .."  # GB 45438 §5.3 c) 注1: 短长短短 is "AI" in Morse code
GAP_S = 0.3  # silence between a prompt and the content, and between rhythm and voice
# Silence before a prompt at the very start: lossy encoders have no history for their first
# frame, and the AAC encoder overshoots a tone that starts there by up to 5 dB.
LEAD_IN_S = 0.05
VOICE_CLIP = Path(__file__).parent / "voice" / "notice_zh.opus"
VOICE_NOTICE = "本内容由人工智能生成"  # what the shipped clip says (wording.DEFAULT_ZH)
VOICE_PEAK_DBFS = -6.0  # speech peaks ~14 dB above its RMS: about as loud as the rhythm
MAX_VOICE_S = 30.0

# ffmpeg demuxer for each label carrier that holds audio, and the codecs we can re-encode.
_DEMUXERS = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "mp4": "mp4"}
_LOSSLESS = {"flac": "flac", "alac": "alac"}  # decoder -> encoder; plus every pcm_* in WAV
_LOSSY = {"mp3": "libmp3lame", "mp3float": "libmp3lame", "aac": "aac", "opus": "libopus",
          "libopus": "libopus", "vorbis": "vorbis"}
# Bit/s per channel an encoder is given at least and at most (libopus, lame and the ffmpeg
# AAC encoder reject or misbehave outside these; lame also caps at 320 kbit/s in total).
_BITRATE_PER_CHANNEL = {"libmp3lame": (16_000, 160_000), "aac": (16_000, 256_000),
                        "libopus": (6_000, 255_000), "vorbis": (24_000, 250_000)}
_DEFAULT_BITRATE_PER_CHANNEL = 64_000
# libvorbis nominal bit/s per channel at qualities 0, 0.1 ... 1.0 (44.1 kHz stereo / 2):
# the quality that gives about the input's bitrate is picked from this curve.
_VORBIS_CURVE = (32_000, 40_000, 48_000, 56_000, 64_000, 80_000, 96_000, 112_000, 128_000,
                 160_000, 250_000)
_DROPPED_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands"}


@dataclass(frozen=True)
class Rhythm:
    """The 短长短短 rhythm prompt: "AI" in Morse code (A = ·−, I = ··), as tone bursts.

    Timing follows ITU-R M.1677-1 §2: a dash is three dots, the space between the elements
    of a letter is one dot, the space between letters three dots. The whole prompt is then
    dot, gap, dash, letter gap, dot, gap, dot = 11 units; at the default 0.1 s unit (the
    PARIS standard's 12 words per minute, easy to follow for an untrained ear) it lasts
    1.1 s. GB 45438 gives no durations; these are the Morse code the standard cites.

    The tone is a 1 kHz sine: the ear is most sensitive around 1–4 kHz, and 1 kHz survives
    telephone bandwidth, 8 kHz sampling and every lossy codec. Its peak is −18 dBFS, the
    EBU R 68 alignment level: clearly audible next to programme material yet far from full
    scale, so it neither startles nor clips after lossy coding. Each burst is gated with
    raised-cosine ramps of 5 ms centred on its nominal edges: an abrupt gate would click
    (a broadband splatter), and centring the ramps keeps every element at its nominal
    length measured at half amplitude.
    """

    frequency_hz: float = 1000.0
    unit_s: float = 0.1
    level_dbfs: float = -18.0
    ramp_s: float = 0.005

    def __post_init__(self) -> None:
        if not 200.0 <= self.frequency_hz <= 4000.0:
            raise NoticeError(f"rhythm frequency {self.frequency_hz} Hz is outside 200–4000 Hz")
        if not 0.04 <= self.unit_s <= 0.25:
            raise NoticeError(f"rhythm unit {self.unit_s} s is outside 0.04–0.25 s "
                              "(30 to 5 words per minute)")
        if not -40.0 <= self.level_dbfs <= -3.0:
            raise NoticeError(f"rhythm level {self.level_dbfs} dBFS is outside −40 to −3 dBFS")
        if not 0.001 <= self.ramp_s <= self.unit_s / 2:
            raise NoticeError(f"rhythm ramp {self.ramp_s} s is outside 1 ms to half a unit")

    @property
    def elements(self) -> tuple[tuple[bool, int], ...]:
        """(tone on?, length in units) for each element and space of MORSE_AI."""
        out: list[tuple[bool, int]] = []
        for letter in MORSE_AI.split():
            if out:
                out.append((False, 3))
            for i, symbol in enumerate(letter):
                if i:
                    out.append((False, 1))
                out.append((True, 1 if symbol == "." else 3))
        return tuple(out)

    @property
    def duration_s(self) -> float:
        """Length of the rendered prompt: the elements plus half a ramp at either end."""
        return sum(n for _, n in self.elements) * self.unit_s + self.ramp_s

    def render(self, rate: int) -> NDArray[np.float64]:
        """The prompt as mono samples at `rate`, peak at `level_dbfs`."""
        if self.frequency_hz >= 0.45 * rate:
            raise NoticeError(f"rhythm frequency {self.frequency_hz} Hz is too high for "
                              f"{rate} Hz audio")
        t = np.arange(round(self.duration_s * rate)) / rate
        envelope = np.zeros_like(t)
        edge = self.ramp_s / 2
        start = edge
        for on, units in self.elements:
            end = start + units * self.unit_s
            if on:
                rise = np.clip((t - (start - edge)) / self.ramp_s, 0.0, 1.0)
                fall = np.clip(((end + edge) - t) / self.ramp_s, 0.0, 1.0)
                envelope += 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))
            start = end
        amplitude = 10 ** (self.level_dbfs / 20)
        return amplitude * envelope * np.sin(2 * np.pi * self.frequency_hz * t)


@dataclass(frozen=True)
class AudioMarkResult:
    path: str
    format: str  # the label carrier's name: wav, flac, mp3, ogg, mp4
    codec: str  # the encoder used
    sample_rate: int
    channels: int
    prompt_spans: tuple[tuple[float, float], ...]  # where prompts sound in the output, s
    content_start_s: float  # where the original content begins in the output
    content_s: float
    labeled: bool


@dataclass(frozen=True)
class _Shape:
    """What every frame of the content has, and the prompt must have too."""

    rate: int
    format: str
    layout: str
    channels: int


def _shape(frame: av.AudioFrame) -> _Shape:
    return _Shape(frame.sample_rate, frame.format.name, frame.layout.name,
                  len(frame.layout.channels))


def _to_frames(mono: NDArray[np.float64], shape: _Shape) -> Iterator[av.AudioFrame]:
    """`mono` in every channel, in the content's own sample format, 4096 samples a frame."""
    fmt = av.AudioFormat(shape.format)
    kind = fmt.packed.name
    if kind in ("flt", "dbl"):
        samples: NDArray[Any] = mono.astype(np.float32 if kind == "flt" else np.float64)
    else:
        full = 2.0 ** (8 * fmt.bytes - 1)
        ints = np.clip(np.round(mono * full), -full, full - 1)
        samples = (ints + 128).astype(np.uint8) if kind == "u8" else ints.astype(
            {"s16": np.int16, "s32": np.int32, "s64": np.int64}[kind])
    for i in range(0, len(samples), 4096):
        chunk = samples[i:i + 4096]
        planes = (np.repeat(chunk[None, :], shape.channels, axis=0) if fmt.is_planar
                  else np.repeat(chunk, shape.channels)[None, :])
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format=shape.format,
                                           layout=shape.layout)
        frame.sample_rate = shape.rate
        yield frame


def _mono(frame: av.AudioFrame) -> NDArray[np.float64]:
    return np.asarray(frame.to_ndarray(), dtype=np.float64).reshape(-1)


def _load_voice(clip: Path, rate: int) -> NDArray[np.float64]:
    """The clip as mono float at `rate` (swresample's windowed-sinc filter), peak at
    VOICE_PEAK_DBFS."""
    if not clip.is_file():
        raise NoticeError(f"{clip}: voice notice clip not found")
    resampler = av.AudioResampler(format="dbl", layout="mono", rate=rate)
    parts: list[NDArray[np.float64]] = []
    try:
        with av.open(str(clip)) as container:
            if not container.streams.audio:
                raise MalformedFile(f"{clip}: voice notice clip has no audio stream")
            for frame in container.decode(audio=0):
                parts += [_mono(f) for f in resampler.resample(frame)]
            parts += [_mono(f) for f in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise MalformedFile(f"{clip}: voice notice clip is not readable audio: {exc}") from None
    voice = np.concatenate(parts) if parts else np.zeros(0)
    peak = float(np.abs(voice).max()) if voice.size else 0.0
    if peak < 1e-4:
        raise NoticeError(f"{clip}: voice notice clip is silent")
    if voice.size > MAX_VOICE_S * rate:
        raise NoticeError(f"{clip}: voice notice clip is longer than {MAX_VOICE_S:g} s")
    return voice * (10 ** (VOICE_PEAK_DBFS / 20) / peak)


def prompt_signal(prompt: Prompt, rate: int, rhythm: Rhythm = Rhythm(),
                  voice_clip: Path = VOICE_CLIP) -> NDArray[np.float64]:
    """The whole prompt (rhythm, then the spoken notice, for "both") as mono samples."""
    parts: list[NDArray[np.float64]] = []
    if prompt in ("rhythm", "both"):
        parts.append(rhythm.render(rate))
    if prompt in ("voice", "both"):
        if parts:
            parts.append(np.zeros(round(GAP_S * rate)))
        parts.append(_load_voice(voice_clip, rate))
    return np.concatenate(parts)


class _Input:
    """An open input: its one audio stream, decoded frame by frame, plus cover pictures."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        try:
            self.container = av.open(str(path), format=_DEMUXERS[fmt])
        except av.FFmpegError as exc:
            raise MalformedFile(f"{path}: not a readable {fmt} file: {exc}") from None
        audio = list(self.container.streams.audio)
        self.pictures = [s for s in self.container.streams
                         if s.type == "video" and s.disposition & Disposition.attached_pic]
        others = [s for s in self.container.streams
                  if s.type != "audio" and s not in self.pictures]
        if len(audio) != 1 or others:
            what = (f"a {others[0].type} stream" if others else
                    "no audio stream" if not audio else f"{len(audio)} audio streams")
            self.container.close()  # after reading the streams: closing frees them
            raise UnsupportedFormat(f"{path}: has {what}; only single-stream audio files "
                                    "are supported for marking")
        self.stream: AudioStream = audio[0]
        self.picture_packets: list[Packet[Stream]] = []

    def frames(self) -> Iterator[av.AudioFrame]:
        try:
            for packet in self.container.demux():
                if packet.stream.index == self.stream.index:
                    yield from self.stream.codec_context.decode(packet)
                elif packet.size and packet.stream in self.pictures:
                    self.picture_packets.append(packet)
        except av.FFmpegError as exc:
            raise MalformedFile(f"{self.path}: cannot decode the audio: {exc}") from None


def _lossy_bitrate(inp: _Input, encoder: str, channels: int) -> int:
    stream = inp.stream
    rate = stream.bit_rate or stream.codec_context.bit_rate or inp.container.bit_rate
    rate = rate or _DEFAULT_BITRATE_PER_CHANNEL * channels
    low, high = _BITRATE_PER_CHANNEL[encoder]
    rate = max(low * channels, min(high * channels, rate))
    return min(rate, 320_000) if encoder == "libmp3lame" else rate


def _encoder(fmt: str, inp: _Input) -> str:
    decoder = inp.stream.codec_context.name
    if fmt == "wav" and decoder.startswith("pcm_"):
        return decoder
    if fmt != "wav" and decoder in _LOSSLESS:
        return _LOSSLESS[decoder]
    if fmt != "wav" and decoder in _LOSSY:
        return _LOSSY[decoder]
    raise UnsupportedFormat(f"{inp.path}: {decoder} audio in {fmt} is unsupported for marking")


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    """Tags to carry over: not the old label (written afresh) nor encoder bookkeeping."""
    return {k: v for k, v in metadata.items()
            if "aigc" not in k.lower() and k.lower() not in _DROPPED_TAGS}


class _AvSink:
    """Encodes frames with ffmpeg (through PyAV) into the input's container format."""

    def __init__(self, out: BinaryIO, fmt: str, encoder: str, shape: _Shape, inp: _Input) -> None:
        options = {}
        if fmt == "mp4" and "major_brand" in inp.container.metadata:
            # The mp4 muxer with the input's brand (M4A ...): the ipod muxer takes no cover art.
            options["brand"] = inp.container.metadata["major_brand"]
        self.container = av.open(out, "w", format=fmt, options=options)
        self.stream = cast(AudioStream, self.container.add_stream(encoder, rate=shape.rate))
        ctx = self.stream.codec_context
        ctx.layout = shape.layout
        formats = [f.name for f in ctx.codec.audio_formats or ()]
        ctx.format = shape.format if shape.format in formats else formats[0]
        if encoder in _BITRATE_PER_CHANNEL:
            ctx.bit_rate = _lossy_bitrate(inp, encoder, shape.channels)
        self.container.metadata.update(_tags(dict(inp.container.metadata)))
        self.stream.metadata.update(_tags(dict(inp.stream.metadata)))
        self.picture_streams = {}
        if fmt != "ogg":  # Ogg cover art lives in the comments, copied with them
            for s in inp.pictures:
                target = self.container.add_stream_from_template(s)
                target.disposition = s.disposition
                self.picture_streams[s.index] = target
        self.samples = 0

    def pictures(self, packets: list[Packet[Stream]]) -> None:
        for packet in packets:
            target = self.picture_streams.get(packet.stream.index)
            if target is not None:
                packet.stream = target
                self.container.mux(packet)

    def write(self, frame: av.AudioFrame) -> None:
        frame.pts = self.samples
        self.samples += frame.samples
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()


class _VorbisSink:
    """Ogg Vorbis through libsndfile's libvorbis (ffmpeg's own Vorbis encoder is an
    experimental one of poor quality), at the quality that matches the input's bitrate."""

    def __init__(self, out: BinaryIO, shape: _Shape, inp: _Input) -> None:
        per_channel = _lossy_bitrate(inp, "vorbis", shape.channels) / shape.channels
        quality = float(np.interp(per_channel, _VORBIS_CURVE, np.linspace(0.0, 1.0, 11)))
        self.file = soundfile.SoundFile(out, "w", samplerate=shape.rate,
                                        channels=shape.channels, format="OGG",
                                        subtype="VORBIS", compression_level=1.0 - quality)
        self.samples = 0

    def pictures(self, packets: list[Packet[Stream]]) -> None:
        """Ogg cover art travels in the comments, which are copied after encoding."""

    def write(self, frame: av.AudioFrame) -> None:
        data = frame.to_ndarray().astype(np.float32)
        self.file.write(data.T if frame.format.is_planar else data.reshape(-1, len(
            frame.layout.channels)))
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


def _carrier_format(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise MalformedFile(f"{path}: empty file")
    carrier = detect(head, path)
    if carrier is None or carrier.NAME not in _DEMUXERS:
        what = carrier.NAME if carrier is not None else "unrecognised"
        raise UnsupportedFormat(f"{path}: {what} files are unsupported for audio marking "
                                "(WAV, FLAC, MP3, Ogg Vorbis/Opus, M4A are)")
    return carrier.NAME


def _verify(tmp: Path, d: Path, encoder: str, shape: _Shape) -> None:
    """Read the output's header back: the stream we meant to write is there."""
    try:
        with av.open(str(tmp)) as check:
            ctx = check.streams.audio[0].codec_context
            ok = ctx.sample_rate == shape.rate and len(ctx.layout.channels) == shape.channels
    except (av.FFmpegError, IndexError):
        ok = False
    if not ok:
        raise MalformedFile(f"{d}: the {encoder} output did not read back as "
                            f"{shape.rate} Hz, {shape.channels} channel audio")


def _open_sink(out: BinaryIO, fmt: str, encoder: str, shape: _Shape,
               inp: _Input) -> _AvSink | _VorbisSink:
    try:
        sink = (_VorbisSink(out, shape, inp) if encoder == "vorbis"
                else _AvSink(out, fmt, encoder, shape, inp))
        sink.pictures(inp.picture_packets)
    except (av.FFmpegError, soundfile.LibsndfileError, ValueError) as exc:
        raise UnsupportedFormat(f"{inp.path}: cannot encode {encoder} at {shape.rate} Hz, "
                                f"{shape.channels} channels: {exc}") from None
    return sink


def _encode(sink: _AvSink | _VorbisSink, frames: Iterable[av.AudioFrame] | None,
            path: Path) -> None:
    """Frames into the sink; None flushes and closes it."""
    try:
        if frames is None:
            sink.close()
        else:
            for frame in frames:
                sink.write(frame)
    except (av.FFmpegError, soundfile.LibsndfileError) as exc:
        raise UnsupportedFormat(f"{path}: the encoder failed: {exc}") from None


def _same_shape(frames: Iterator[av.AudioFrame], shape: _Shape,
                path: Path) -> Iterator[av.AudioFrame]:
    for frame in frames:
        if _shape(frame) != shape:
            raise UnsupportedFormat(f"{path}: the audio changes sample rate, format or "
                                    "channels mid-stream; unsupported for marking")
        yield frame


def mark_audio(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    prompt: Prompt = "rhythm",
    position: Position = "start",
    rhythm: Rhythm = Rhythm(),
    voice_clip: str | os.PathLike[str] | None = None,
    label: AIGCLabel | None = None,
) -> AudioMarkResult:
    """Add the audible notice to `src` and write to `dst` (in place if None), in the same
    format, codec, sample rate and channels; then write the implicit `label` (or keep the
    input's compliant label when `label` is None)."""
    if prompt not in PROMPTS:
        raise NoticeError(f"prompt {prompt!r} is not one of {', '.join(PROMPTS)}")
    if position not in POSITIONS:
        raise NoticeError(f"position {position!r} is not one of {', '.join(POSITIONS)}")
    s = Path(src)
    d = s if dst is None else Path(dst)
    clip = VOICE_CLIP if voice_clip is None else Path(voice_clip)
    if prompt != "rhythm" and not clip.is_file():
        raise NoticeError(f"{clip}: voice notice clip not found")
    fmt = _carrier_format(s)
    if label is None:
        label = inspect(s).label
    inp = _Input(s, fmt)
    try:
        encoder = _encoder(fmt, inp)
        frames = inp.frames()
        first = next(frames, None)
        if first is None:
            raise MalformedFile(f"{s}: no audio samples; there is nothing to mark")
        shape = _shape(first)
        block = prompt_signal(prompt, shape.rate, rhythm, clip)
        gap = np.zeros(round(GAP_S * shape.rate))
        with atomic_output(d, mode_from=s) as (out, tmp):
            sink = _open_sink(out, fmt, encoder, shape, inp)
            if position in ("start", "both"):
                lead_in = np.zeros(round(LEAD_IN_S * shape.rate))
                _encode(sink, _to_frames(np.concatenate([lead_in, block, gap]), shape), s)
            content_start = sink.samples
            _encode(sink, itertools.chain([first], _same_shape(frames, shape, s)), s)
            content = sink.samples - content_start
            if content == 0:
                raise MalformedFile(f"{s}: no audio samples; there is nothing to mark")
            if position in ("end", "both"):
                _encode(sink, _to_frames(np.concatenate([gap, block]), shape), s)
            _encode(sink, None, s)
            if fmt == "ogg":
                _copy_ogg_comments(s, out)
    finally:
        inp.container.close()
    try:
        _verify(tmp, d, encoder, shape)
        if label is not None:
            write_label(tmp, d, label)
            tmp.unlink(missing_ok=True)
        else:
            commit(tmp, d)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    rate = shape.rate
    spans = []
    if position in ("start", "both"):
        spans.append((LEAD_IN_S, LEAD_IN_S + len(block) / rate))
    if position in ("end", "both"):
        end_start = (content_start + content + len(gap)) / rate
        spans.append((end_start, end_start + len(block) / rate))
    return AudioMarkResult(str(d), fmt, encoder, rate, shape.channels, tuple(spans),
                           content_start / rate, content / rate, label is not None)
