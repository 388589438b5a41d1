"""One entry point for explicit labels on files: pick the image, audio, video or text
renderer from the file's format, then write the implicit label afterwards (with the
watermark, signature and C2PA steps of `labels.protect` in between, as configured)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from synthguard._atomic import atomic_output
from synthguard.errors import UnsupportedFormat
from synthguard.explicit.wording import DEFAULT_ZH
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import Report, publish
from synthguard.labels.carriers import SNIFF_BYTES, detect
from synthguard.labels.protect import Protection

Kind = Literal["image", "audio", "video", "text"]
IMAGE = {"jpeg", "png", "webp", "gif", "tiff"}
AUDIO = {"wav", "flac", "mp3", "ogg"}
AV = {"mp4", "matroska", "avi", "flv"}  # audio-only or video: decided by the streams
TEXT = {"text", "markdown"}
MAX_TEXT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Marked:
    path: str
    kind: Kind
    details: dict[str, Any]
    report: Report | None = None  # the labeled output, read back; None: not labeled


def kind_of(path: Path) -> tuple[Kind, str]:
    """The kind of explicit label a file takes, and its carrier name."""
    with path.open("rb") as f:
        carrier = detect(f.read(SNIFF_BYTES), path)
    name = carrier.NAME if carrier else ""
    if name in IMAGE:
        return "image", name
    if name in AUDIO:
        return "audio", name
    if name in TEXT or path.suffix.lower() in (".html", ".htm"):
        return "text", name or "text"
    if name in AV:
        return ("video" if _has_video(path) else "audio"), name
    raise UnsupportedFormat(f"{path}: {name or 'this format'} files take no explicit label "
                            "here; add the notice where the document is authored")


def _has_video(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            return any(s.type == "video" and s.codec_context.name not in ("mjpeg", "png")
                       for s in container.streams)
    except av.FFmpegError:
        return False  # the audio path reports the corrupt file with its own message


def mark_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    notice: str = DEFAULT_ZH,
    position: str = "bottom-right",
    at: str = "start",
    label: AIGCLabel | None = None,
    protection: Protection | None = None,
) -> Marked:
    """Add the explicit label that suits `src` (image corner notice, audio rhythm prompt,
    video opening notice, text notice) and then the implicit `label`, if given.

    `position` is the corner or edge for images and video; `at` is start, end or both for
    text and audio. `protection`: the watermark (images and audio), signed label and C2PA
    manifest to add with the label; None means what the configuration sets
    (`Protection.configured()`), `Protection()` the label alone."""
    s = Path(src)
    kind, carrier = kind_of(s)
    chosen = None
    if label is not None:
        chosen = Protection.configured() if protection is None else protection
    if kind == "image":
        from synthguard.explicit.image import mark_image

        r = mark_image(s, dst, notice=notice, position=position,  # type: ignore[arg-type]
                       label=label, protection=chosen)
        return Marked(r.path, kind, {"format": r.format, "frames": r.frames,
                                     "glyph_height_px": r.layout.ink_height}, r.report)
    if kind == "audio":
        from synthguard.explicit.audio import mark_audio

        a = mark_audio(s, dst, position=at, label=label,  # type: ignore[arg-type]
                       protection=chosen)
        return Marked(a.path, kind, {"format": a.format, "codec": a.codec,
                                     "prompt_spans": a.prompt_spans}, a.report)
    if kind == "video":
        from synthguard.explicit.video import mark_video

        v = mark_video(s, dst, notice=notice, position=position,  # type: ignore[arg-type]
                       label=label, protection=chosen)
        return Marked(v.path, kind, {"container": v.container, "encoder": v.encoder,
                                     "marked_frames": v.marked_frames}, v.report)
    return _mark_text_file(s, Path(dst) if dst is not None else s, carrier, notice, at, label,
                           chosen)


def _mark_text_file(src: Path, dst: Path, carrier: str, notice: str, at: str,
                    label: AIGCLabel | None, protection: Protection | None) -> Marked:
    from synthguard.explicit.text import mark_text

    data = src.read_bytes()
    if len(data) > MAX_TEXT_BYTES:
        raise UnsupportedFormat(f"{src}: text file larger than {MAX_TEXT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedFormat(f"{src}: text is not UTF-8") from None
    fmt = ("markdown" if carrier == "markdown"
           else "html" if src.suffix.lower() in (".html", ".htm") else "plain")
    marked = mark_text(text, notice, position=at, fmt=fmt)  # type: ignore[arg-type]
    with atomic_output(dst, mode_from=src) as (out, tmp):
        out.write(marked.encode("utf-8"))
    report = publish(tmp, dst, label if carrier == "markdown" else None,
                     protection=protection, source=src)
    return Marked(str(dst), "text", {"format": fmt,
                                     "implicit": label is not None and carrier == "markdown"},
                  report)
