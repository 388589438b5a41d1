"""Watermarking audio files: same format out, tags kept, read back, nothing left on failure."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile

from synthguard.errors import UnsupportedFormat, VerificationFailed
from synthguard.watermark.audio import embed_audio
from synthguard.watermark.audio_file import detect_audio_file, watermark_audio_file
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload
from tests.tools import require_tool
from tests.watermark.audio_corpus import make_clip

KEY = WatermarkKey(3, b"audio-file-key-0123456789abcdef")
CONTENT_ID = 0xA1B2C3D4E5F607
RATE = 44_100


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "clip.wav"
    soundfile.write(path, make_clip("music", 11, 5.0, RATE, 2), RATE, subtype="PCM_16")
    return path


def _ffprobe(path: Path) -> dict[str, object]:
    exe = require_tool("ffprobe")
    out = subprocess.run([exe, "-v", "error", "-show_entries",
                          "stream=codec_name,sample_rate,channels:format_tags", "-of", "json",
                          str(path)], capture_output=True, check=True, timeout=60)
    info: dict[str, object] = json.loads(out.stdout)
    return info


def _encode(src: Path, dst: Path, *args: str) -> Path:
    exe = require_tool("ffmpeg")
    subprocess.run([exe, "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True,
                   timeout=120)
    return dst


FORMATS = [
    ("flac", ("-c:a", "flac")),
    ("mp3", ("-c:a", "libmp3lame", "-b:a", "128k", "-metadata", "title=Synth song")),
    ("ogg", ("-c:a", "libvorbis", "-q:a", "4")),
    ("opus", ("-c:a", "libopus", "-b:a", "96k")),
    ("m4a", ("-c:a", "aac", "-b:a", "128k")),
]


@pytest.mark.interop
@pytest.mark.parametrize(("ext", "args"), FORMATS, ids=[f[0] for f in FORMATS])
def test_formats_keep_codec_rate_channels_and_mark(source: Path, tmp_path: Path, ext: str,
                                                   args: tuple[str, ...]) -> None:
    src = _encode(source, tmp_path / f"in.{ext}", *args)
    dst = tmp_path / f"out.{ext}"
    detection = watermark_audio_file(src, dst, CONTENT_ID, KEY)
    assert detection.content_id == CONTENT_ID
    before, after = _ffprobe(src), _ffprobe(dst)
    assert after["streams"] == before["streams"]
    found = detect_audio_file(dst, KeyRing([KEY]))
    assert found.present and found.content_id == CONTENT_ID
    if ext == "mp3":
        assert str(mutagen.File(dst)["TIT2"]) == "Synth song"


def test_wav_is_written_with_exactly_the_marked_samples(source: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.wav"
    watermark_audio_file(source, dst, CONTENT_ID, KEY)
    original, rate = soundfile.read(source, dtype="float64", always_2d=True)
    written, written_rate = soundfile.read(dst, dtype="int16", always_2d=True)
    assert written_rate == rate and written.shape == original.shape
    expected = embed_audio(original, rate, Payload(KEY.key_id, CONTENT_ID), KEY)
    quantised = np.clip(np.round(expected * 32768), -32768, 32767)
    assert np.array_equal(written, quantised.astype(np.int16))
    assert source.read_bytes() != dst.read_bytes()


def test_silent_file_fails_verification_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "silent.wav"
    soundfile.write(src, np.zeros((4 * RATE, 1)), RATE, subtype="PCM_16")
    before = src.read_bytes()
    dst = tmp_path / "out.wav"
    with pytest.raises(VerificationFailed):
        watermark_audio_file(src, dst, CONTENT_ID, KEY)
    assert not dst.exists() and src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["silent.wav"]


def test_unsupported_inputs(source: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    short = tmp_path / "short.wav"
    soundfile.write(short, np.zeros((RATE // 2, 1)), RATE)
    for src, dst in ((text, tmp_path / "a.txt"), (short, tmp_path / "b.wav"),
                     (source, tmp_path)):
        with pytest.raises(UnsupportedFormat):
            watermark_audio_file(src, dst, CONTENT_ID, KEY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "short.wav"]


def test_unmarked_file_is_not_detected(source: Path) -> None:
    found = detect_audio_file(source, KeyRing([KEY]))
    assert not found.present and found.content_id is None


def test_a_mark_the_encoder_takes_is_placed_again(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Opus at 48 kbit/s this speech clip loses this payload with the pattern's
    first placement (the in-memory read-back cannot see it); the file step reads the
    written file back and places the mark again."""
    import synthguard.watermark.audio_file as audio_file

    wav = tmp_path / "speech.wav"
    soundfile.write(wav, make_clip("speech", 21, 4.0, 24_000, 1), 24_000, subtype="PCM_16")
    src = _encode(wav, tmp_path / "speech.opus", "-c:a", "libopus", "-b:a", "48k")
    content_id = 0xA1B2C3D4E5F607
    out = tmp_path / "marked.opus"
    assert watermark_audio_file(src, out, content_id, KEY).content_id == content_id
    assert detect_audio_file(out, KeyRing([KEY])).content_id == content_id
    monkeypatch.setattr(audio_file, "PLACEMENTS", 1)
    with pytest.raises(VerificationFailed, match="did not read back"):
        watermark_audio_file(src, tmp_path / "first.opus", content_id, KEY)
    assert not (tmp_path / "first.opus").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marked.opus", "speech.opus",
                                                         "speech.wav"]


def test_a_mark_that_does_not_decode_is_made_again_with_the_narrower_step(
        tmp_path: Path) -> None:
    """On this speech clip the widest lattice step leaves a mark whose sync reads and
    whose payload does not; the file step reads it back in memory and remakes it."""
    from synthguard.watermark.audio import STEPS, detect_audio, embed_audio_checked

    clip = make_clip("speech", 12, 4.0, 24_000, 1)
    src = tmp_path / "clip.wav"
    soundfile.write(src, clip, 24_000, subtype="FLOAT")
    samples, _ = soundfile.read(src, always_2d=True)
    content_id = 0xA1B2C3D4E5F600
    widest = embed_audio(samples, 24_000, Payload(KEY.key_id, content_id), KEY)
    found = detect_audio(widest, 24_000, KeyRing([KEY]))
    assert found.present and found.content_id is None  # the case this test is about
    narrow = embed_audio(samples, 24_000, Payload(KEY.key_id, content_id), KEY,
                         steps=STEPS[1:])
    assert detect_audio(narrow, 24_000, KeyRing([KEY])).content_id == content_id
    checked = embed_audio_checked(samples, 24_000, Payload(KEY.key_id, content_id), KEY)
    assert np.array_equal(checked, narrow)
    assert watermark_audio_file(src, tmp_path / "out.wav", content_id, KEY).content_id == \
        content_id
    with pytest.raises(ValueError, match="lattice steps"):
        embed_audio(samples, 24_000, Payload(KEY.key_id, content_id), KEY, steps=(1.0,))
