"""The label stage (GB 45438 §5–6, labeling Measures Art. 16–17): every output leaves
with an explicit notice and the Annex E implicit label, ProduceID = the record id.

Text gets the notice in the text itself (streams: first and last chunk) and the label
fields in a response header and a `synthguard` body field. Images get a visible notice
and then the metadata label; audio gets the 短长短短 rhythm prompt and then the metadata
label. The content layer works on files, so each output passes through a private
temporary directory that is removed afterwards.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from synthguard.config import Config
from synthguard.explicit import StreamingNotice, mark_text
from synthguard.explicit.audio import mark_audio
from synthguard.explicit.image import mark_image
from synthguard.labels import AIGCLabel, inspect

LABEL_HEADER = "X-SynthGuard-Label"
_IMAGE_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}
_AUDIO_SUFFIX = {"mp3": ".mp3", "wav": ".wav", "flac": ".flac", "opus": ".ogg"}
MAX_IMAGE_PIXELS = 40_000_000


class LabelingFailed(Exception):
    """An output could not be labeled; it must not be released."""


@dataclass(frozen=True)
class LabeledFile:
    data: bytes
    carrier: str  # the format the label reader found
    verdict: str


class Labeler:
    def __init__(self, config: Config) -> None:
        self.producer = config.producer_code
        self.notice = config.notice
        self.position = config.notice_position
        self.streaming = StreamingNotice(config.notice, config.notice_position)

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
            mark_image(src, dst, notice=self.notice, label=label)
            return _read_back(dst)

    def audio(self, data: bytes, fmt: str, label: AIGCLabel) -> LabeledFile:
        """Rhythm prompt at the start, then metadata label, then a read-back."""
        with tempfile.TemporaryDirectory(prefix="synthguard-") as tmp:
            src = Path(tmp) / f"model{_AUDIO_SUFFIX[fmt]}"
            dst = Path(tmp) / f"labeled{_AUDIO_SUFFIX[fmt]}"
            src.write_bytes(data)
            mark_audio(src, dst, prompt="rhythm", position="start", label=label)
            return _read_back(dst)

    def file_record(self, label: AIGCLabel, explicit: str,
                    files: list[tuple[LabeledFile, str]]) -> dict[str, Any]:
        return {"explicit": {"kind": explicit},
                "implicit": {"fields": label.fields(), "carriers": [LABEL_HEADER, "file"]},
                "files": [{"carrier": f.carrier, "verdict": f.verdict, "digest": digest}
                          for f, digest in files]}


def _read_back(path: Path) -> LabeledFile:
    report = inspect(path)
    if report.verdict != "compliant":
        raise LabelingFailed(f"the labeled {report.format} file reads back {report.verdict}")
    return LabeledFile(path.read_bytes(), report.format or "", report.verdict)
