"""With watermark keys and a signing key configured, the gateway's images and speech carry
the robust watermark whose payload is the record id's content id, and a signed label;
the official `openai` client asks, the detector and the signature verifier check the bytes
it got back, with the same keyring and the public key the operator pins."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile  # type: ignore[import-untyped]

from synthguard.labels.api import inspect
from synthguard.labels.protect import Protection
from synthguard.labels.security import SigningKey
from synthguard.store import Database
from synthguard.watermark import KeyRing, WatermarkKey, content_id_from, detect_file
from synthguard.watermark.audio import detect_audio
from synthguard.watermark.audio_file import detect_audio_file
from tests.gateway.conftest import MODEL, Gateway, make_config, run_gateway
from tests.tools import require_tool

RING = KeyRing([WatermarkKey(2, bytes.fromhex("c4" * 32)), WatermarkKey(1, b"old-key-" * 4)])
KEY = SigningKey.generate()
SUFFIX = {"mp3": ".mp3", "wav": ".wav", "flac": ".flac", "opus": ".ogg"}


@pytest.fixture
def protected(sqlite_database: Database) -> Iterator[Gateway]:
    config = make_config(protection=Protection(watermark_keys=RING, signing_key=KEY))
    yield from run_gateway(sqlite_database, config)


def test_image_carries_the_record_ids_watermark(protected: Gateway, tmp_path: Path) -> None:
    _, key = protected.key()
    raw = protected.client(key).images.with_raw_response.generate(
        model=MODEL, prompt="a harbour in fog", size="256x256", response_format="b64_json")
    record_id = raw.headers["x-synthguard-record-id"]
    path = tmp_path / "out.png"
    path.write_bytes(base64.b64decode(raw.parse().data[0].b64_json or ""))
    found = detect_file(path, RING)
    assert found.present and found.key_id == 2  # the primary key marks
    assert found.content_id == content_id_from(record_id)
    report = inspect(path, watermark_keys=RING, trusted_keys=[KEY.public_key_hex])
    assert report.verdict == "compliant" and report.problems() == []
    assert report.label is not None and report.label.produce_id == record_id
    assert report.signature is not None and report.signature.status == "valid"
    assert report.signature.watermark_checked
    # The record keeps what went with the label, for the audit trail.
    [entry] = protected.record(record_id).labels["files"]  # type: ignore[index]
    assert entry["watermark"] == {"key_id": 2, "content_id": f"{found.content_id:014x}"}
    assert entry["signature"]["status"] == "valid"


@pytest.mark.parametrize("fmt", ["mp3", "wav", "opus"])
def test_speech_carries_the_record_ids_watermark(protected: Gateway, tmp_path: Path,
                                                 fmt: str) -> None:
    _, key = protected.key()
    raw = protected.client(key).audio.speech.with_raw_response.create(
        model=MODEL, voice="alloy", response_format=fmt,  # type: ignore[arg-type]
        input="The gateway marks this speech so that a copy can be traced to its record.")
    record_id = raw.headers["x-synthguard-record-id"]
    path = tmp_path / f"speech{SUFFIX[fmt]}"
    path.write_bytes(raw.content)
    found = detect_audio_file(path, RING)
    assert found.present and found.content_id == content_id_from(record_id)
    report = inspect(path, watermark_keys=RING, trusted_keys=[KEY.public_key_hex])
    assert report.signature is not None and report.signature.status == "valid"
    assert report.watermark is not None and report.watermark.matches_label
    # A copy whose metadata is gone (the label with it) still names its record. (Lossy
    # re-encodes are the benchmark's business: docs/benchmarks.md, robust audio watermark.)
    copy = tmp_path / "copy.wav"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-i", str(path), "-map_metadata",
                    "-1", "-c:a", "pcm_s16le", str(copy)], check=True, timeout=60)
    assert inspect(copy, integrity=False).verdict == "not_found"
    audio, rate = soundfile.read(copy)
    assert detect_audio(np.asarray(audio), rate, RING).content_id == content_id_from(record_id)
    [entry] = protected.record(record_id).labels["files"]  # type: ignore[index]
    assert entry["watermark"]["content_id"] == f"{content_id_from(record_id):014x}"


def test_a_mark_the_speech_encoder_takes_is_placed_again() -> None:
    """The gateway encodes lossy speech itself, after the mark: with this record id the
    demo voice's mark lost its payload to the MP3 encoder (one reply in 300), and the
    reply went out unmarked with a warning. It is now placed again and encoded again
    until the encoded reply reads back."""
    from synthguard.gateway.backends.demo import demo_speech_samples, encode_speech
    from synthguard.gateway.labeling import Labeler

    labeler = Labeler(make_config(protection=Protection(watermark_keys=RING)))
    wav = encode_speech(demo_speech_samples(
        "The gateway marks this speech so that a copy can be traced to its record.",
        "alloy"), "wav")
    record_id = "000000000000000278dde6e5fd29f054"
    labeled = labeler.audio(wav, "mp3", labeler.aigc(record_id), source_fmt="wav")
    assert labeled.protection["watermark"]["content_id"] == f"{content_id_from(record_id):014x}"
    assert "notes" not in labeled.protection


def test_without_keys_nothing_is_watermarked(gateway: Gateway, tmp_path: Path) -> None:
    _, key = gateway.key()
    raw = gateway.client(key).images.with_raw_response.generate(
        model=MODEL, prompt="a quiet street", size="256x256", response_format="b64_json")
    path = tmp_path / "out.png"
    path.write_bytes(base64.b64decode(raw.parse().data[0].b64_json or ""))
    assert not detect_file(path, RING).present
    report = inspect(path)
    assert report.signature is not None and report.signature.status == "unsigned"
    [entry] = gateway.record(raw.headers["x-synthguard-record-id"]).labels["files"]  # type: ignore[index]
    assert "watermark" not in entry and "signature" not in entry
