"""Visible notices on video (GB 45438 §5.4): the notice on every frame of the opening span
(at least 2 s), text at least 5 % of the shortest side tall, optionally a smaller mark on
every frame for the whole video.

Only the video stream is decoded and re-encoded (same codec family, pixel format, size,
frame rate and timestamps, near-transparent quality); audio, subtitle and attachment
streams are copied packet for packet. The notice is rendered once with the image
renderer and composited into the decoded planes themselves, so pixels outside the
notice are not pushed through a colour conversion. Re-encoding drops container metadata
the muxer does not know, so the implicit label is written afterwards.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from synthguard._atomic import atomic_output
from synthguard.errors import MalformedFile, UnsupportedFormat, VerificationFailed
from synthguard.explicit.image import FONT_PATH, POSITIONS, Layout, Position, check_glyphs
from synthguard.explicit.video_overlay import Compositor, Marks, layout
from synthguard.explicit.wording import DEFAULT_ZH, NoticeError, check_notice
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import Report, inspect, publish
from synthguard.labels.protect import Protection

MIN_OPENING_SECONDS = 2.0  # GB 45438 §5.4: shown for at least 2 s
DEFAULT_OPENING_SECONDS = 3.0  # a margin over the minimum for players that skip the start
PERSISTENT_NOTICE = "AI生成"  # shortest wording with both elements
MAX_FRAME_PIXELS = 8192 * 8192

# Preferred encoders per decoded codec; the first one this build has and the output
# container accepts wins. H.264 falls back to MPEG-4 part 2 where libx264 is missing.
ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "mpeg4"),
    "hevc": ("libx265",),
    "vp8": ("libvpx",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1"),
    "prores": ("prores_ks",),
}
# Quality settings that keep the re-encoded picture visually indistinguishable.
QUALITY: dict[str, dict[str, str]] = {
    "libx264": {"crf": "18", "preset": "medium"},
    "libx265": {"crf": "20", "preset": "medium", "x265-params": "log-level=error"},
    "libvpx": {"crf": "8", "b": "20M", "deadline": "good", "cpu-used": "4"},  # VP8 crf needs a cap
    "libvpx-vp9": {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
    "libsvtav1": {"crf": "26", "preset": "8"},
    "libaom-av1": {"crf": "26", "cpu-used": "6", "row-mt": "1"},
}
FIXED_QUANTISER = 3  # for encoders without crf (mpeg4, mjpeg ...), as `ffmpeg -q:v 3`
FF_QP2LAMBDA = 118
# Tags that describe the old encode (or the label we rewrite) and must not be copied.
STALE_TAGS = {"ENCODER", "MAJOR_BRAND", "MINOR_VERSION", "COMPATIBLE_BRANDS", "DURATION", "BPS",
              "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES", "AIGC"}
MOV_FAMILY = ("mp4", "mov", "3gp")
STILL_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff"}
_WEBM_DOCTYPE = re.compile(rb"\x42\x82[\x80-\x8f]webm")
_DURATION_TAG = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")
TRUNCATION_SLACK_S = 0.25


@dataclass(frozen=True)
class VideoMarkResult:
    path: str
    container: str  # the muxer used, e.g. "mp4", "matroska"
    encoder: str
    frames: int
    marked_frames: int  # frames carrying the opening notice
    opening_seconds: float
    layout: Layout
    persistent_layout: Layout | None
    copied_streams: int  # audio, subtitle, attachment ... streams copied packet for packet
    label: AIGCLabel | None  # the implicit label written (given, or carried over from src)
    report: Report | None = None  # the labeled output, read back (signature, C2PA ...)


class _Probe(NamedTuple):
    muxer: str
    rotation: int  # quarter turns counterclockwise needed for display
    pix_fmt: str
    size: tuple[int, int]  # as displayed


def _encoder(src: Path, codec: str, output: OutputContainer) -> str:
    accepted = output.supported_codecs
    for name in (*ENCODERS.get(codec, ()), codec):
        try:
            av.codec.Codec(name, "w")
        except (av.error.FFmpegError, ValueError):
            continue
        if name in accepted:
            return name
    raise UnsupportedFormat(f"{src}: no encoder for {codec} video in this PyAV build "
                            f"that the {output.format.name} container accepts")


def _muxer(src: Path, container: InputContainer) -> str:
    family = set(container.format.name.split(","))
    if "mp4" in family:  # the QuickTime family shares one demuxer; the brand tells them apart
        brand = container.metadata.get("major_brand", "").strip().lower()
        return "mov" if brand == "qt" else "3gp" if brand.startswith("3g") else "mp4"
    if "matroska" in family:
        with src.open("rb") as f:
            return "webm" if _WEBM_DOCTYPE.search(f.read(64)) else "matroska"
    for name in ("avi", "flv"):
        if name in family:
            return name
    raise UnsupportedFormat(f"{src}: {container.format.long_name} video is unsupported for "
                            "marking (MP4, MOV, MKV, WebM, AVI, FLV are)")


def _open(src: Path) -> InputContainer:
    try:
        return av.open(str(src), "r")
    except av.error.FFmpegError as exc:
        raise MalformedFile(f"{src}: not a readable video: {exc.strerror or exc}") from None


def _video_stream(src: Path, container: InputContainer) -> VideoStream:
    """The one moving-picture stream; cover pictures are copied, not marked."""
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]
    if len(streams) > 1:  # a cover stored as a picture track (Matroska, ffmpeg -c copy)
        streams = [s for s in streams if s.codec_context.name not in STILL_CODECS] or streams
    if not streams:
        raise UnsupportedFormat(f"{src}: has no video stream to mark")
    if len(streams) > 1:
        raise UnsupportedFormat(f"{src}: has {len(streams)} video streams; marking handles one")
    return streams[0]


def _probe(src: Path) -> _Probe:
    """What the first decoded frame says: display rotation and pixel format."""
    with _open(src) as container:
        muxer = _muxer(src, container)
        stream = _video_stream(src, container)
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise MalformedFile(f"{src}: video does not decode: {exc.strerror or exc}") from None
        if first is None:
            raise MalformedFile(f"{src}: the video stream has no decodable frame")
        if first.width * first.height > MAX_FRAME_PIXELS:
            raise UnsupportedFormat(f"{src}: {first.width}x{first.height} exceeds the frame "
                                    "pixel limit")
        if first.rotation % 90:
            raise UnsupportedFormat(f"{src}: display rotation {first.rotation}° is unsupported")
        turns = (first.rotation // 90) % 4
        size = (first.height, first.width) if turns % 2 else (first.width, first.height)
        return _Probe(muxer, turns, first.format.name, size)


def _clean_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items()
            if k.upper() not in STALE_TAGS and not k.upper().startswith("_STATISTICS")}


def _encoder_format(encoder: str, decoded: str) -> str:
    """The decoded pixel format if the encoder takes it, else the nearest one it does in
    the same colour model (swscale cannot write palettes, so those are never chosen)."""
    formats = [f for f in av.codec.Codec(encoder, "w").video_formats or ()
               if not f.has_palette]
    names = [f.name for f in formats]
    if not formats or decoded in names:
        return decoded
    source = av.VideoFormat(decoded)
    rgb = source.is_rgb or source.has_palette
    same_model = [f.name for f in formats if f.is_rgb == rgb]
    for preferred in ("yuv420p", "rgb24"):
        if preferred in same_model:
            return preferred
    return same_model[0] if same_model else names[0]


def _add_video_stream(src: Path, output: OutputContainer, stream: VideoStream,
                      probe: _Probe, options: dict[str, str] | None) -> VideoStream:
    ctx = stream.codec_context
    encoder = _encoder(src, ctx.codec.canonical_name, output)
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    out = output.add_stream(encoder, rate=rate)
    if not isinstance(out, VideoStream):
        raise UnsupportedFormat(f"{src}: {encoder} is not a video encoder")
    out.width, out.height = probe.size
    out.pix_fmt = _encoder_format(encoder, probe.pix_fmt)
    tb = stream.time_base or Fraction(1, 90000)
    if encoder in ("mpeg4", "mjpeg") and tb.denominator > 65535:
        tb = 1 / Fraction(rate).limit_denominator(65535)  # the MPEG-4 part 2 time base limit
    out.codec_context.time_base = tb
    out.time_base = tb
    for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
        value = getattr(ctx, attr, None)
        if value:
            setattr(out.codec_context, attr, value)
    sar = ctx.sample_aspect_ratio
    if sar:
        out.codec_context.sample_aspect_ratio = 1 / sar if probe.rotation % 2 else sar
    if encoder in QUALITY or options:
        out.codec_context.options = {**QUALITY.get(encoder, {}), **(options or {})}
    else:
        out.codec_context.qscale = True
        out.codec_context.global_quality = FIXED_QUANTISER * FF_QP2LAMBDA
    out.metadata.update(_clean_tags(dict(stream.metadata)))
    return out


def _frames(src: Path, container: InputContainer, stream: VideoStream) -> Iterator[
        tuple[VideoFrame | None, av.Packet[Stream] | None]]:
    """Demux in file order: decoded video frames, or packets of other streams."""
    packets = container.demux()
    while True:
        try:
            packet = next(packets)
            frames = stream.decode(packet) if packet.stream is stream else None
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            raise MalformedFile(f"{src}: corrupt media data: {exc.strerror or exc}") from None
        if frames is None:
            yield None, packet
        else:
            for frame in frames:
                yield frame, None


def _add_streams(src: Path, container: InputContainer, output: OutputContainer,
                 video: VideoStream, probe: _Probe, options: dict[str, str] | None
                 ) -> tuple[VideoStream, dict[int, Stream]]:
    """Output streams in the input's order: the re-encoded video, the rest as copies."""
    encoded = _add_video_stream(src, output, video, probe, options)
    encoded.disposition = video.disposition
    copies: dict[int, Stream] = {}
    for stream in container.streams:
        if stream is video:
            continue
        if stream.type == "data" and "timecode" in stream.metadata and probe.muxer in MOV_FAMILY:
            # A QuickTime timecode track: the muxer writes a fresh one from this tag.
            encoded.metadata.setdefault("timecode", stream.metadata["timecode"])
            continue
        try:
            copy = output.add_stream_from_template(stream)
        except (av.error.FFmpegError, ValueError, TypeError) as exc:
            raise UnsupportedFormat(f"{src}: cannot copy {stream.type} stream #{stream.index} "
                                    f"into {probe.muxer}: {exc}") from None
        copy.metadata.update(_clean_tags(dict(stream.metadata)))
        copy.disposition = stream.disposition
        copies[stream.index] = copy
    return encoded, copies


def _transcode(src: Path, container: InputContainer, output: OutputContainer, probe: _Probe,
               marks: Marks, options: dict[str, str] | None) -> tuple[str, Compositor, int]:
    stream = _video_stream(src, container)
    stream.thread_type = "AUTO"
    out, copies = _add_streams(src, container, output, stream, probe, options)
    output.metadata.update(_clean_tags(dict(container.metadata)))
    output.start_encoding()
    compositor = Compositor(marks, probe.pix_fmt, out.pix_fmt or probe.pix_fmt)
    enc_tb = out.codec_context.time_base
    rate = float(out.codec_context.rate or 25)
    for frame, packet in _frames(src, container, stream):
        if frame is None:
            assert packet is not None
            copy = copies.get(packet.stream.index)
            if copy is not None and packet.size:  # size 0: end-of-stream flush packets
                packet.stream = copy
                output.mux(packet)
            continue
        marked = compositor(frame, rate)
        if marked.pts is not None and marked.time_base and marked.time_base != enc_tb:
            marked.pts = round(marked.pts * marked.time_base / enc_tb)
            marked.time_base = enc_tb
        output.mux(out.encode(marked))
    output.mux(out.encode(None))
    if compositor.frames == 0:
        raise MalformedFile(f"{src}: the video stream has no decodable frame")
    _check_complete(src, stream, compositor, rate)
    return out.codec_context.name, compositor, len(copies)


def _declared_seconds(stream: VideoStream) -> float | None:
    """The video stream's duration as its container declares it, if it does."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = _DURATION_TAG.match(stream.metadata.get("DURATION", ""))  # Matroska, per stream
    if tag:
        h, m, sec = tag.groups()
        return int(h) * 3600 + int(m) * 60 + float(sec)
    return None


def _check_complete(src: Path, stream: VideoStream, done: Compositor, rate: float) -> None:
    """A truncated file demuxes without error, just shorter: compare with what the
    container declares (duration, not frame count: edit lists hide counted frames)."""
    declared = _declared_seconds(stream)
    decoded = done.last - (done.start or 0.0) + 1 / rate
    if declared is not None and decoded < declared - max(TRUNCATION_SLACK_S, 2 / rate):
        raise MalformedFile(f"{src}: truncated: the video stream declares {declared:.2f} s "
                            f"but its frames end at {decoded:.2f} s")


def _write(src: Path, out_file: Any, probe: _Probe, marks: Marks,
           options: dict[str, str] | None) -> tuple[str, Compositor, int]:
    """Transcode into `out_file`. Input problems raise MalformedFile (from `_frames`);
    everything libav refuses on the output side is UnsupportedFormat."""
    with _open(src) as container:
        try:
            output = av.open(out_file, "w", format=probe.muxer)
        except av.error.FFmpegError as exc:
            raise UnsupportedFormat(f"{src}: cannot write {probe.muxer}: {exc}") from None
        try:
            result = _transcode(src, container, output, probe, marks, options)
            output.close()
        except av.error.FFmpegError as exc:
            raise UnsupportedFormat(f"{src}: cannot write {probe.muxer}: "
                                    f"{exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(av.error.FFmpegError):
                output.close()  # after an error: release libav state, output is discarded
        return result


def _verify(path: Path, frames: int) -> None:
    """Read the output back: it must demux, with one video packet per encoded frame."""
    try:
        with av.open(str(path), "r") as container:
            stream = _video_stream(path, container)
            packets = sum(1 for p in container.demux(stream) if p.size)
    except (av.error.FFmpegError, UnsupportedFormat) as exc:
        raise VerificationFailed(f"{path}: written video does not read back: {exc}") from None
    if packets != frames:
        raise VerificationFailed(f"{path}: written video has {packets} frames, expected {frames}")


def mark_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    notice: str = DEFAULT_ZH,
    position: Position = "top-left",
    opening_seconds: float = DEFAULT_OPENING_SECONDS,
    persistent: bool = False,
    persistent_notice: str = PERSISTENT_NOTICE,
    persistent_position: Position | None = None,
    font_path: Path = FONT_PATH,
    encoder_options: dict[str, str] | None = None,
    label: AIGCLabel | None = None,
    protection: Protection | None = None,
) -> VideoMarkResult:
    """Draw the notice on the opening `opening_seconds` of `src` (and, if `persistent`, a
    short mark on every later frame) and write to `dst` (in place if None) in the same
    container and codec family; then write the implicit `label`, or carry over the
    source's own compliant label when none is given. `encoder_options` override the
    encoder's defaults (e.g. {"preset": "veryfast"} for libx264). `protection` adds the
    signed label and C2PA manifest (`labels.protect`; video takes no watermark)."""
    notice = check_notice(notice)
    mark_notice = check_notice(persistent_notice) if persistent else None
    mark_position = persistent_position or position
    for p in (position, mark_position):
        if p not in POSITIONS:
            raise NoticeError(f"position {p!r} is not one of {', '.join(POSITIONS)}")
    if not math.isfinite(opening_seconds) or opening_seconds < MIN_OPENING_SECONDS:
        raise NoticeError(f"opening_seconds {opening_seconds} is below the {MIN_OPENING_SECONDS}"
                          " s GB 45438 §5.4 requires")
    check_glyphs(notice + (mark_notice or ""), font_path)
    s = Path(src)
    d = s if dst is None else Path(dst)
    if d.is_dir():
        raise UnsupportedFormat(f"{d}: output path is a directory")
    probe = _probe(s)
    opening = layout(probe.size, notice, position, font_path)
    mark = layout(probe.size, mark_notice, mark_position, font_path) if mark_notice else None
    marks = Marks(probe.size, probe.rotation, opening, opening_seconds, mark, font_path)
    if label is None:
        # Keep the producer's implicit label through the re-encode.
        label = inspect(s, integrity=False).label
    with atomic_output(d, mode_from=s) as (out, tmp):
        encoder, done, copied = _write(s, out, probe, marks, encoder_options)
    report = publish(tmp, d, label, check=lambda: _verify(tmp, done.frames),
                     protection=protection, source=s)
    return VideoMarkResult(str(d), probe.muxer, encoder, done.frames, done.marked,
                           opening_seconds, marks.opening, marks.persistent, copied,
                           report.label if report is not None else label, report)
