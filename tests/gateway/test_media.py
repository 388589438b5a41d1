"""Images and speech through a running gateway: the files come back with a visible or
audible notice and an implicit label that the label library and exiftool/ffprobe read."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile  # type: ignore[import-untyped]
from PIL import Image

import synthguard
from synthguard.gateway.backends.demo import SPEECH_RATE, demo_image
from tests.gateway.conftest import MODEL, PRODUCER, Gateway
from tests.tools import exiftool_xmp_aigc, require_tool

SUFFIX = {"mp3": ".mp3", "wav": ".wav", "flac": ".flac", "opus": ".ogg"}


def _check_label(path: Path, record_id: str) -> None:
    report = synthguard.inspect(path)
    assert report.verdict == "compliant", report.to_dict()
    label = report.label
    assert label is not None
    assert label.content_producer == PRODUCER and label.produce_id == record_id


def test_image_is_marked_and_labeled(gateway: Gateway, tmp_path: Path) -> None:
    _, key = gateway.key()
    prompt = "a lighthouse at dusk"
    raw = gateway.client(key).images.with_raw_response.generate(
        model=MODEL, prompt=prompt, size="256x256", response_format="b64_json")
    record_id = raw.headers["x-synthguard-record-id"]
    assert json.loads(raw.headers["x-synthguard-label"])["ProduceID"] == record_id
    result = raw.parse()
    assert (result.model_extra or {})["synthguard"]["record_id"] == record_id
    data = base64.b64decode(result.data[0].b64_json or "")
    path = tmp_path / "out.png"
    path.write_bytes(data)
    _check_label(path, record_id)
    assert json.loads(exiftool_xmp_aigc(path) or "{}")["ProduceID"] == record_id

    # The visible notice: the bottom-right corner differs from the unmarked image, the
    # top-left corner does not.
    marked = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    plain = np.asarray(Image.open(io.BytesIO(demo_image(prompt, 256, 256))).convert("RGB"),
                       dtype=np.int16)
    assert marked.shape == plain.shape
    assert np.abs(marked[-40:, -120:] - plain[-40:, -120:]).mean() > 10
    assert np.array_equal(marked[:60, :60], plain[:60, :60])

    record = gateway.record(record_id)
    assert record.status == "ok" and record.labels is not None
    assert record.labels["files"][0]["carrier"] == "png"
    # The default reviewer's starter library has an image-hash entry, so the generated
    # image was reviewed (and matched nothing) before it was labeled.
    assert record.output_review is not None and record.output_review["reviewed"] is True
    assert record.output_review["decision"] == "allowed"


def test_image_url_format_and_several_images(gateway: Gateway, tmp_path: Path) -> None:
    _, key = gateway.key()
    result = gateway.client(key).images.generate(model=MODEL, prompt="two moons", n=2,
                                                  size="256x256", response_format="url")
    assert len(result.data) == 2
    ids = set()
    for i, item in enumerate(result.data):
        url = item.url or ""
        assert url.startswith("data:image/png;base64,")
        path = tmp_path / f"{i}.png"
        path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
        label = synthguard.inspect(path).label
        assert label is not None
        ids.add(label.produce_id)
    assert len(ids) == 1  # one request, one record, one ProduceID


def _rhythm_at_start(samples: np.ndarray, rate: int) -> float:
    """Share of the first prompt element's energy at 1 kHz (the 短长短短 rhythm tone)."""
    head = samples[int(0.06 * rate):int(0.14 * rate)]
    spectrum = np.abs(np.fft.rfft(head * np.hanning(len(head))))
    freqs = np.fft.rfftfreq(len(head), 1 / rate)
    band = (freqs > 900) & (freqs < 1100)
    return float((spectrum[band] ** 2).sum() / (spectrum ** 2).sum())


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "opus"])
def test_speech_has_rhythm_prompt_and_label(sqlite_gateway: Gateway, tmp_path: Path,
                                            fmt: str) -> None:
    _, key = sqlite_gateway.key()
    raw = sqlite_gateway.client(key).audio.speech.with_raw_response.create(
        model=MODEL, voice="alloy", input="Good morning. The gateway labels this speech.",
        response_format=fmt)  # type: ignore[arg-type]
    record_id = raw.headers["x-synthguard-record-id"]
    assert json.loads(raw.headers["x-synthguard-label"])["ProduceID"] == record_id
    path = tmp_path / f"speech{SUFFIX[fmt]}"
    path.write_bytes(raw.content)
    _check_label(path, record_id)

    ffprobe = require_tool("ffprobe")
    probe = json.loads(subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True, timeout=60).stdout)
    stream = probe["streams"][0]
    expected_codec = {"mp3": "mp3", "wav": "pcm_s16le", "flac": "flac", "opus": "opus"}[fmt]
    assert stream["codec_name"] == expected_codec

    decoded = subprocess.run([require_tool("ffmpeg"), "-v", "error", "-i", str(path), "-f",
                              "wav", "-ac", "1", "-ar", str(SPEECH_RATE), "-"],
                             capture_output=True, check=True, timeout=60).stdout
    samples, rate = soundfile.read(io.BytesIO(decoded))
    assert _rhythm_at_start(samples, rate) > 0.8

    record = sqlite_gateway.record(record_id)
    assert record.status == "ok" and record.labels is not None
    assert record.labels["explicit"] == {"kind": "audio_rhythm_prompt"}
