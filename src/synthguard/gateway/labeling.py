"""The label stage (GB 45438 §5–6, labeling Measures Art. 16–17): every output leaves
with an explicit notice and the Annex E implicit label, ProduceID = the record id.

Text gets the notice in the text itself (streams: first and last chunk) and the label
fields in a response header and a `synthguard` body field. Images get a visible notice
and then the metadata label; audio gets the 短长短短 rhythm prompt and then the metadata
label. With watermark keys configured (`Config.protection`), images and audio also carry
the robust watermark between the two, its payload the content id of the record id
(`watermark.content_id_from(ProduceID)`), so the audit log resolves a re-encoded copy
whose metadata is gone; with a signing key the label is signed and bound to the content
and the watermark; with C2PA credentials a manifest follows (`labels.protect`). The
content layer works on files, so each output passes through a private temporary
directory that is removed afterwards.

Speech asked for in a lossy format (MP3, Opus) is watermarked before its one lossy
encode: the backend is asked for WAV, the prompt and the mark go onto the PCM, and the
gateway encodes the requested format itself. Marking an already lossy file means a
second encode at the same low bitrate, which speech at 24 kHz and 50 kbit/s does not
survive (and which costs quality even without a watermark).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile  # type: ignore[import-untyped]
from PIL import Image, UnidentifiedImageError

from synthguard.config import Config
from synthguard.errors import SynthGuardError
from synthguard.explicit import StreamingNotice, mark_text
from synthguard.explicit.audio import mark_audio
from synthguard.explicit.image import mark_image
from synthguard.labels import AIGCLabel, Finding, Report, inspect

LABEL_HEADER = "X-SynthGuard-Label"
_IMAGE_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}
_AUDIO_SUFFIX = {"mp3": ".mp3", "wav": ".wav", "flac": ".flac", "opus": ".ogg"}
# soundfile's format, subtype and compression level (0 best) for the formats the gateway
# encodes itself: MP3 at its best VBR quality (about 70 kbit/s for 24 kHz speech), Opus at
# about 75 kbit/s. The watermark reads back from these on every speech clip tried; at the
# encoders' defaults (about 47 and 35 kbit/s) it does not always.
_LOSSY_AUDIO = {"mp3": ("MP3", "MPEG_LAYER_III", 0.0), "opus": ("OGG", "OPUS", 0.7)}
MAX_IMAGE_PIXELS = 40_000_000


class LabelingFailed(Exception):
    """An output could not be labeled; it must not be released."""


@dataclass(frozen=True)
class LabeledFile:
    data: bytes
    carrier: str  # the format the label reader found
    verdict: str
    # What went with the label (watermark payload, signature, C2PA, skipped steps), as
    # the request record keeps it; empty without content protection.
    protection: dict[str, Any] = field(default_factory=dict)


class Labeler:
    def __init__(self, config: Config) -> None:
        self.producer = config.producer_code
        self.notice = config.notice
        self.position = config.notice_position
        self.streaming = StreamingNotice(config.notice, config.notice_position)
        self.protection = config.protection

    def aigc(self, record_id: str) -> AIGCLabel:
        return AIGCLabel.create(producer=self.producer, produce_id=record_id)

    @staticmethod
    def header(label: AIGCLabel) -> dict[str, str]:
        return {LABEL_HEADER: label.to_json()}

    @staticmethod
    def extension(label: AIGCLabel) -> dict[str, Any]:
        """The `synthguard` field added to JSON bodies and stream chunks."""
        return {"label": label.fields(), "record_id": label.produce_id}

    def text(self, text: str) -> str:
        return mark_text(text, self.notice, position=self.position)

    def text_record(self, label: AIGCLabel, *, streamed: bool) -> dict[str, Any]:
        return {"explicit": {"kind": "text_notice", "position": self.position,
                             "notice": self.notice, "streamed": streamed},
                "implicit": {"fields": label.fields(), "carriers": [LABEL_HEADER, "body"]}}

    def image(self, data: bytes, label: AIGCLabel) -> LabeledFile:
        """Visible notice, then metadata label, then an independent read-back."""
        try:
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                pixels = probe.width * probe.height
        except (UnidentifiedImageError, OSError) as exc:
            raise LabelingFailed(f"the model's image is not readable: {exc}") from None
        if fmt not in _IMAGE_SUFFIX or pixels > MAX_IMAGE_PIXELS:
            raise LabelingFailed(f"the model's image ({fmt or 'unknown'}, {pixels} px) "
                                 "cannot be labeled")
        with tempfile.TemporaryDirectory(prefix="synthguard-") as tmp:
            src = Path(tmp) / f"model{_IMAGE_SUFFIX[fmt]}"
            dst = Path(tmp) / f"labeled{_IMAGE_SUFFIX[fmt]}"
            src.write_bytes(data)
            marked = mark_image(src, dst, notice=self.notice, label=label,
                                protection=self.protection)
            return _read_back(dst, marked.report if self.protection.active else None)

    def source_format(self, fmt: str) -> str:
        """The format to ask the backend for, to deliver `fmt`: WAV when the watermark
        must go in before a lossy encode (see the module docstring)."""
        return "wav" if self.protection.marks and fmt in _LOSSY_AUDIO else fmt

    def audio(self, data: bytes, fmt: str, label: AIGCLabel,
              source_fmt: str | None = None) -> LabeledFile:
        """Rhythm prompt at the start, then (when configured) the watermark, then the
        metadata label, then a read-back. `data` is in `source_fmt` (default `fmt`)."""
        source_fmt = source_fmt or fmt
        with tempfile.TemporaryDirectory(prefix="synthguard-") as tmp:
            src = Path(tmp) / f"model{_AUDIO_SUFFIX[source_fmt]}"
            dst = Path(tmp) / f"labeled{_AUDIO_SUFFIX[fmt]}"
            src.write_bytes(data)
            if source_fmt != fmt:
                return self._audio_encoded(src, dst, fmt, label)
            marked = mark_audio(src, dst, prompt="rhythm", position="start", label=label,
                                protection=self.protection)
            return _read_back(dst, marked.report if self.protection.active else None)

    def _audio_encoded(self, src: Path, dst: Path, fmt: str, label: AIGCLabel
                       ) -> LabeledFile:
        """Prompt and watermark on the backend's PCM, one encode to `fmt`, then the
        signed label (`seal` finds the mark in the encoded file before binding it). A mark
        whose payload the encoder takes is placed again and encoded again (one MP3 reply
        of the demo voice in 300 needed it)."""
        from synthguard.labels.protect import seal
        from synthguard.watermark.audio import PLACEMENTS
        from synthguard.watermark.audio_file import detect_audio_file, watermark_audio_file
        from synthguard.watermark.keys import KeyRing
        from synthguard.watermark.payload import content_id_from

        keys = self.protection.watermark_keys
        assert keys is not None
        content_id = content_id_from(label.produce_id)
        prompted, marked = src.with_name("prompt.wav"), src.with_name("marked.wav")
        encoded = src.with_name(f"encoded{dst.suffix}")
        container, subtype, level = _LOSSY_AUDIO[fmt]
        mark_audio(src, prompted, prompt="rhythm", position="start")
        notes: list[Finding] = []
        for placement in range(PLACEMENTS):
            try:
                watermark_audio_file(prompted, marked, content_id, keys.primary,
                                     strength=self.protection.strength, placement=placement)
            except SynthGuardError as exc:
                if self.protection.watermark == "require":
                    raise
                reason = str(exc)
                if reason.startswith(str(src.parent)):  # a private temporary path
                    reason = reason.split(": ", 1)[-1]
                notes.append(Finding("watermark-skipped", "warning",
                                     f"not watermarked: {reason}"))
                marked = prompted
            samples, rate = soundfile.read(marked, always_2d=True)
            soundfile.write(encoded, samples, rate, format=container, subtype=subtype,
                            compression_level=level)
            if marked == prompted or detect_audio_file(
                    encoded, KeyRing([keys.primary])).content_id == content_id:
                break
        report = seal(encoded, dst, label, self.protection, owned=True, premarked=True,
                      notes=notes)
        return _read_back(dst, report)

    def file_record(self, label: AIGCLabel, explicit: str,
                    files: list[tuple[LabeledFile, str]]) -> dict[str, Any]:
        return {"explicit": {"kind": explicit},
                "implicit": {"fields": label.fields(), "carriers": [LABEL_HEADER, "file"]},
                "files": [{"carrier": f.carrier, "verdict": f.verdict, "digest": digest,
                           **f.protection} for f, digest in files]}


def _read_back(path: Path, sealed: Report | None) -> LabeledFile:
    """An independent read of the label from the bytes that will be sent; `sealed` is
    the protection step's own read-back (watermark, signature, C2PA) of the same file."""
    report = inspect(path, integrity=False)
    if report.verdict != "compliant":
        raise LabelingFailed(f"the labeled {report.format} file reads back {report.verdict}")
    return LabeledFile(path.read_bytes(), report.format or "", report.verdict,
                       _protection_record(sealed) if sealed is not None else {})


def _protection_record(report: Report) -> dict[str, Any]:
    record: dict[str, Any] = {}
    mark = report.watermark
    if mark is not None and mark.present and mark.content_id is not None:
        record["watermark"] = {"key_id": mark.key_id, "content_id": f"{mark.content_id:014x}"}
    if report.signature is not None and report.signature.status != "unsigned":
        record["signature"] = {"status": report.signature.status,
                               "key_id": report.signature.key_id}
    if report.c2pa is not None and report.c2pa.status not in ("absent", "not_checked"):
        record["c2pa"] = report.c2pa.status
    notes = [f.message for f in report.findings if f.code.endswith(("-skipped",
                                                                   "-not-applicable"))]
    if notes:
        record["notes"] = notes
    return record
