"""label() with the watermark, the signed label and C2PA, and what inspect() reports.

Files come from Pillow, soundfile and ffmpeg; exiftool reads the label independently, the
watermark detector and the C2PA reader (c2pa-rs) are run on the final files, and the
tamper cases are made the way a forger would: rewrite a field, edit pixels, move a label
to another file.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

import synthguard
from synthguard.errors import SynthGuardError, UnsupportedFormat
from synthguard.explicit.files import mark_file
from synthguard.labels.api import inspect, write_label
from synthguard.labels.protect import Protection
from synthguard.labels.security import SigningKey
from synthguard.watermark import KeyRing, WatermarkKey, content_id_from, detect_file
from synthguard.watermark.audio_file import detect_audio_file
from tests.labels.test_c2pa import make_pki
from tests.tools import exiftool_xmp_aigc, require_tool
from tests.watermark.audio_corpus import make_clip
from tests.watermark.corpus import make

PRODUCER = "001191110102MACQD9K64010000"
RING = KeyRing([WatermarkKey(5, bytes.fromhex("5a" * 32))])
OTHER_RING = KeyRing([WatermarkKey(6, bytes.fromhex("6b" * 32))])
KEY = SigningKey.generate()
FORGER = SigningKey.generate()
FULL = Protection(watermark_keys=RING, signing_key=KEY)


def picture(path: Path, seed: int = 1, size: tuple[int, int] = (512, 384), **save: object
            ) -> Path:
    make("photo", seed, size).save(path, **save)  # type: ignore[arg-type]
    return path


def label(src: Path, dst: Path, produce_id: str, protection: Protection = FULL
          ) -> synthguard.Report:
    return synthguard.label(src, dst, producer=PRODUCER, produce_id=produce_id,
                            protection=protection)


def check(path: Path, *trusted: str, ring: KeyRing | None = RING,
          anchors: bytes | None = None) -> synthguard.Report:
    return inspect(path, watermark_keys=ring, trusted_keys=trusted, c2pa_trust_anchors=anchors)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".sgtmp" in p.name]


@pytest.mark.parametrize(("name", "save"), [("a.png", {}), ("a.jpg", {"quality": 90}),
                                            ("a.webp", {"lossless": True}), ("a.tif", {})])
def test_label_then_inspect_shows_watermark_and_valid_signature(
        tmp_path: Path, name: str, save: dict[str, object]) -> None:
    src = picture(tmp_path / name, **save)
    out = tmp_path / f"out-{name}"
    written = label(src, out, "img-0001")
    assert written.path == str(out) and no_temp_files(tmp_path)
    report = check(out, KEY.public_key_hex)
    assert report.verdict == "compliant" and report.problems() == []
    mark = report.watermark
    assert mark is not None and mark.present and mark.key_id == 5
    assert mark.content_id == content_id_from("img-0001") and mark.matches_label
    assert mark.false_positive_probability is not None
    assert mark.false_positive_probability < 1e-12
    assert report.signature is not None and report.signature.status == "valid"
    assert report.signature.watermark_checked
    assert report.signature.records["producer"].content_bound
    assert report.c2pa is not None and report.c2pa.status == "absent"
    # The detector alone, and an independent reader of the label, agree.
    assert detect_file(out, RING).content_id == content_id_from("img-0001")
    assert detect_file(src, RING).content_id is None
    if name.endswith((".png", ".jpg")):
        exif = json.loads(exiftool_xmp_aigc(out) or "{}")
        assert exif["ProduceID"] == "img-0001"
        assert json.loads(exif["ReservedCode1"])["SecurityData"]["Type"] == "TC260PG"
    # What label() returned is that same read-back.
    assert written.signature is not None and written.signature.status == "valid"
    assert written.watermark is not None and written.watermark.present


def test_report_is_backward_compatible(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    label(picture(tmp_path / "a.png"), out, "img-0002")
    data = check(out).to_dict()
    assert {"path", "format", "verdict", "sites", "findings"} <= data.keys()
    assert data["watermark"]["content_id"] == f"{content_id_from('img-0002'):014x}"
    assert data["signature"]["status"] == "untrusted"  # nothing pinned
    assert data["c2pa"]["status"] == "absent"
    assert json.loads(json.dumps(data)) == data
    plain = inspect(out, integrity=False)
    assert plain.watermark is None and plain.signature is None and plain.c2pa is None
    assert plain.to_dict()["watermark"] is None


# --- tampering ------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, synthguard.AIGCLabel]:
    out = tmp_path / "signed.png"
    label(picture(tmp_path / "orig.png"), out, "img-0003")
    aigc = check(out).label
    assert aigc is not None
    return out, aigc


def test_changed_field_is_invalid(tmp_path: Path, signed: tuple[Path, synthguard.AIGCLabel]
                                  ) -> None:
    path, aigc = signed
    forged = tmp_path / "forged.png"
    write_label(path, forged, dataclasses.replace(aigc, produce_id="img-9999"))
    report = check(forged, KEY.public_key_hex)
    assert report.verdict == "compliant"  # the label itself is well formed ...
    assert report.signature is not None and report.signature.status == "invalid"
    assert report.signature.records["producer"].code == "signature-mismatch"
    # ... and the watermark still names the original ProduceID.
    assert report.watermark is not None and report.watermark.matches_label is False
    assert len(report.problems()) == 2


def test_changed_pixels_are_invalid(tmp_path: Path, signed: tuple[Path, synthguard.AIGCLabel]
                                    ) -> None:
    path, aigc = signed
    pixels = np.array(Image.open(path).convert("RGB"))
    pixels[10:20, 10:20] = 255 - pixels[10:20, 10:20]
    edited = tmp_path / "edited-plain.png"
    Image.fromarray(pixels).save(edited)
    relabeled = tmp_path / "edited.png"
    write_label(edited, relabeled, aigc)
    report = check(relabeled, KEY.public_key_hex)
    assert report.signature is not None and report.signature.status == "invalid"
    assert report.signature.records["producer"].code == "content-mismatch"
    assert report.watermark is not None and report.watermark.matches_label  # still marked


def test_label_swapped_from_another_file_is_invalid(tmp_path: Path,
                                                    signed: tuple[Path, synthguard.AIGCLabel]
                                                    ) -> None:
    _, aigc = signed
    other = tmp_path / "other.png"
    label(picture(tmp_path / "other-plain.png", seed=2), other, "img-0004")
    swapped = tmp_path / "swapped.png"
    write_label(other, swapped, aigc)
    report = check(swapped, KEY.public_key_hex)
    assert report.signature is not None and report.signature.status == "invalid"
    assert report.signature.records["producer"].code == "content-mismatch"
    assert report.watermark is not None
    assert report.watermark.content_id == content_id_from("img-0004")
    assert report.watermark.matches_label is False


def test_unsigned_untrusted_and_forged_key(tmp_path: Path) -> None:
    src = picture(tmp_path / "a.png")
    unsigned = tmp_path / "unsigned.png"
    label(src, unsigned, "img-0005", Protection(watermark_keys=RING))
    report = check(unsigned, KEY.public_key_hex)
    assert report.signature is not None and report.signature.status == "unsigned"
    assert report.problems() == []
    forged = tmp_path / "forged.png"
    label(src, forged, "img-0006", Protection(watermark_keys=RING, signing_key=FORGER))
    report = check(forged, KEY.public_key_hex)
    assert report.signature is not None and report.signature.status == "untrusted"
    assert "not pinned" in report.signature.reason
    assert report.problems() == []  # a state to show, not tampering


def test_binding_to_watermark_not_compared_without_keys(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    label(picture(tmp_path / "a.png"), out, "img-0007")
    report = check(out, KEY.public_key_hex, ring=None)
    assert report.watermark is not None and report.watermark.status == "not_checked"
    assert report.watermark.reason == "no watermark keys configured"
    assert report.signature is not None and report.signature.status == "valid"
    assert not report.signature.watermark_checked
    assert "watermark binding was not compared" in report.signature.reason
    other = check(out, ring=OTHER_RING)
    assert other.watermark is not None and other.watermark.status == "absent"


# --- C2PA -----------------------------------------------------------------------------


def test_c2pa_after_the_label_validates_with_a_test_ca(tmp_path: Path) -> None:
    pki = make_pki()
    out = tmp_path / "out.jpg"
    protection = dataclasses.replace(FULL, c2pa=pki.credentials, c2pa_trust_anchors=pki.ca_pem)
    written = label(picture(tmp_path / "a.jpg", quality=92), out, "img-0008", protection)
    assert written.c2pa is not None and written.c2pa.status == "trusted"
    report = check(out, KEY.public_key_hex, anchors=pki.ca_pem)
    assert report.c2pa is not None and report.c2pa.status == "trusted"
    assert report.c2pa.manifest is not None and report.c2pa.manifest.aigc_label == report.label
    assert report.c2pa.manifest.ai_generated
    assert report.signature is not None and report.signature.status == "valid"
    assert report.watermark is not None and report.watermark.matches_label
    # Without the anchors: valid, not trusted; another CA: not trusted either.
    assert check(out).c2pa.status == "valid"  # type: ignore[union-attr]
    assert check(out, anchors=make_pki("Other CA").ca_pem).c2pa.status == "valid"  # type: ignore[union-attr]
    assert json.loads(exiftool_xmp_aigc(out) or "{}")["ProduceID"] == "img-0008"
    # Relabelling after the manifest breaks it, and inspect says so.
    relabeled = tmp_path / "relabeled.jpg"
    aigc = report.label
    assert aigc is not None
    write_label(out, relabeled, dataclasses.replace(aigc, propagate_id="shared-1"))
    broken = check(relabeled, anchors=pki.ca_pem)
    assert broken.c2pa is not None and broken.c2pa.status == "invalid"
    assert any(p.startswith("C2PA manifest invalid") for p in broken.problems())


def test_failed_c2pa_leaves_nothing(tmp_path: Path) -> None:
    pki = make_pki()
    bad = dataclasses.replace(pki.credentials, key_pem=make_pki().credentials.key_pem)
    out = tmp_path / "out.png"
    with pytest.raises(SynthGuardError, match=r"a\.png"):
        label(picture(tmp_path / "a.png"), out, "img-0009",
              dataclasses.replace(FULL, c2pa=bad))
    assert not out.exists() and no_temp_files(tmp_path)


# --- what cannot be watermarked ---------------------------------------------------------


def test_too_small_image_is_labeled_with_a_warning_by_default(tmp_path: Path) -> None:
    src = picture(tmp_path / "icon.png", size=(200, 150))
    out = tmp_path / "icon-out.png"
    report = label(src, out, "img-0010")
    assert report.verdict == "compliant"
    [note] = [f for f in report.findings if f.code == "watermark-skipped"]
    assert note.severity == "warning" and "256" in note.message
    assert report.watermark is not None and not report.watermark.present
    assert report.signature is not None and report.signature.status == "valid"  # still signed
    aigc = report.label
    assert aigc is not None and "Watermark" not in aigc.reserved_code1


def test_too_small_image_is_an_error_when_the_watermark_is_required(tmp_path: Path) -> None:
    src = picture(tmp_path / "icon.png", size=(200, 150))
    out = tmp_path / "icon-out.png"
    required = dataclasses.replace(FULL, watermark="require")
    with pytest.raises(UnsupportedFormat, match=r"icon\.png: cannot be watermarked: .*256"):
        label(src, out, "img-0011", required)
    assert not out.exists() and no_temp_files(tmp_path)
    with pytest.raises(SynthGuardError, match="no watermark keys"):
        Protection(watermark="require")


def test_watermark_off_and_not_applicable(tmp_path: Path) -> None:
    out = tmp_path / "off.png"
    report = label(picture(tmp_path / "a.png"), out, "img-0012",
                   dataclasses.replace(FULL, watermark="off"))
    assert report.watermark is not None and not report.watermark.present
    assert detect_file(out, RING).content_id is None
    gif = tmp_path / "a.gif"
    make("graphic", 3, (300, 300)).convert("P").save(gif)
    report = label(gif, tmp_path / "out.gif", "img-0013")
    assert [f.code for f in report.findings] == ["watermark-not-applicable"]
    assert report.signature is not None and report.signature.status == "valid"  # pixels digest


def test_in_place_keeps_the_file_mode(tmp_path: Path) -> None:
    path = picture(tmp_path / "a.png")
    path.chmod(0o640)
    synthguard.label(path, None, producer=PRODUCER, produce_id="img-0014", protection=FULL)
    assert path.stat().st_mode & 0o777 == 0o640 and no_temp_files(tmp_path)
    assert check(path, KEY.public_key_hex).signature.status == "valid"  # type: ignore[union-attr]


def test_configured_protection_is_the_default(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHGUARD_CONFIG", raising=False)
    monkeypatch.setenv("SYNTHGUARD_WATERMARK_KEYS", "5:" + "5a" * 32)
    monkeypatch.setenv("SYNTHGUARD_SIGNING_KEY", f"{KEY.scalar:064x}")
    out = tmp_path / "out.png"
    synthguard.label(picture(tmp_path / "a.png"), out, producer=PRODUCER, produce_id="img-0015")
    report = check(out, KEY.public_key_hex)
    assert report.watermark is not None and report.watermark.matches_label
    assert report.signature is not None and report.signature.status == "valid"
    plain = tmp_path / "plain.png"
    synthguard.label(tmp_path / "a.png", plain, producer=PRODUCER, produce_id="img-0016",
                     protection=Protection())
    assert check(plain).signature.status == "unsigned"  # type: ignore[union-attr]


# --- audio, video and the mark path ---------------------------------------------------------


@pytest.mark.parametrize("ext", ["wav", "mp3"])
def test_audio_is_watermarked_and_signed(tmp_path: Path, ext: str) -> None:
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, make_clip("speech", 4, 4.0, 44_100, 1), 44_100, subtype="PCM_16")
    src = wav
    if ext == "mp3":
        src = tmp_path / "speech.mp3"
        subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-i", str(wav), "-c:a",
                        "libmp3lame", "-b:a", "128k", str(src)], check=True, timeout=60)
    out = tmp_path / f"out.{ext}"
    label(src, out, "aud-0001")
    report = check(out, KEY.public_key_hex)
    assert report.verdict == "compliant" and report.problems() == []
    assert report.watermark is not None and report.watermark.matches_label
    assert report.signature is not None and report.signature.status == "valid"
    assert report.signature.records["producer"].content_bound
    assert detect_audio_file(out, RING).content_id == content_id_from("aud-0001")


def test_video_is_signed_not_watermarked(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=10:duration=1", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", str(src)], check=True, timeout=60)
    out = tmp_path / "out.mp4"
    report = label(src, out, "vid-0001")
    assert [f.code for f in report.findings] == ["watermark-not-applicable"]
    assert check(out, KEY.public_key_hex).signature.status == "valid"  # type: ignore[union-attr]


def test_mark_then_watermark_then_signed_label(tmp_path: Path) -> None:
    src = picture(tmp_path / "a.png", size=(640, 400))
    out = tmp_path / "marked.png"
    marked = mark_file(src, out, label=synthguard.AIGCLabel.create(
        producer=PRODUCER, produce_id="img-0017"), protection=FULL)
    assert marked.report is not None and marked.report.signature is not None
    assert marked.report.signature.status == "valid"
    report = check(out, KEY.public_key_hex)
    assert report.watermark is not None and report.watermark.matches_label
    # The visible notice is there too: the bottom-right corner changed.
    before = np.asarray(Image.open(src).convert("L"), dtype=np.float64)
    after = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    assert np.abs(after[-30:, -100:] - before[-30:, -100:]).mean() > 10
    assert np.abs(after[:60, :60] - before[:60, :60]).mean() < 3  # only the faint mark


def _mp3(tmp_path: Path, seconds: float, name: str = "speech") -> Path:
    wav = tmp_path / f"{name}.wav"
    soundfile.write(wav, make_clip("speech", 6, seconds, 44_100, 1), 44_100, subtype="PCM_16")
    mp3 = tmp_path / f"{name}.mp3"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-i", str(wav), "-c:a",
                    "libmp3lame", "-b:a", "96k", str(mp3)], check=True, timeout=60)
    return mp3


def test_mark_audio_marks_before_its_one_encode(tmp_path: Path) -> None:
    src = _mp3(tmp_path, 5.0)
    out = tmp_path / "marked.mp3"
    marked = mark_file(src, out, label=synthguard.AIGCLabel.create(
        producer=PRODUCER, produce_id="aud-0002"), protection=FULL)
    assert marked.kind == "audio" and marked.report is not None
    assert [f.code for f in marked.report.findings] == []
    report = check(out, KEY.public_key_hex)
    assert report.watermark is not None and report.watermark.matches_label
    assert report.signature is not None and report.signature.status == "valid"
    assert report.signature.watermark_checked
    assert detect_audio_file(out, RING).content_id == content_id_from("aud-0002")


@pytest.mark.parametrize(("fmt", "suffix", "record_id"), [
    ("wav", ".wav", "0000000000000006cc623af8783354e7"),
    ("opus", ".ogg", "0000000000000004f1bbcdcbfa53e0a8"),
])
def test_mark_audio_marks_the_notice_with_the_content(tmp_path: Path, fmt: str, suffix: str,
                                                      record_id: str) -> None:
    """The mark is made on notice + content as published, and read back from the file as
    encoded. Made on the content alone, the loud notice put before it changed what the
    detector reads as quiet, and the WAV reply of the gateway's demo voice with this
    record id lost its payload; the Opus reply with this one lost it to the encoder until
    the mark was placed again (28 in 100 such Opus files did)."""
    from synthguard.explicit.audio import mark_audio
    from synthguard.gateway.backends.demo import demo_speech_samples, encode_speech

    ring = KeyRing([WatermarkKey(2, bytes.fromhex("c4" * 32))])
    src, out = tmp_path / f"model{suffix}", tmp_path / f"labeled{suffix}"
    src.write_bytes(encode_speech(demo_speech_samples(
        "The gateway marks this speech so that a copy can be traced to its record.",
        "alloy"), fmt))
    label = synthguard.AIGCLabel.create(producer=PRODUCER, produce_id=record_id)
    marked = mark_audio(src, out, prompt="rhythm", position="start", label=label,
                        protection=Protection(watermark_keys=ring))
    assert marked.report is not None and [f.code for f in marked.report.findings] == []
    assert detect_audio_file(out, ring).content_id == content_id_from(record_id)


def test_short_audio_is_noted_or_refused(tmp_path: Path) -> None:
    src = _mp3(tmp_path, 0.6, "blip")
    aigc = synthguard.AIGCLabel.create(producer=PRODUCER, produce_id="aud-0003")
    marked = mark_file(src, tmp_path / "out.mp3", label=aigc, protection=FULL)
    assert marked.report is not None
    [note] = [f for f in marked.report.findings if f.code == "watermark-skipped"]
    assert "shorter than 1" in note.message and str(tmp_path) not in note.message
    assert marked.report.signature is not None and marked.report.signature.status == "valid"
    with pytest.raises(UnsupportedFormat, match=r"blip\.mp3: cannot be watermarked"):
        mark_file(src, tmp_path / "strict.mp3", label=aigc,
                  protection=dataclasses.replace(FULL, watermark="require"))
    assert not (tmp_path / "strict.mp3").exists() and no_temp_files(tmp_path)


def test_a_premark_that_does_not_read_back_is_noted(tmp_path: Path) -> None:
    """`seal(premarked=True)`: the renderer said it marked the file; the mark is looked
    for in the file as published, and a missing one is not bound by the signature."""
    from synthguard.errors import VerificationFailed
    from synthguard.labels.protect import seal

    aigc = synthguard.AIGCLabel.create(producer=PRODUCER, produce_id="img-0018")
    src = picture(tmp_path / "unmarked.png")  # never marked
    report = seal(src, tmp_path / "out.png", aigc, FULL, owned=False, premarked=True)
    [note] = [f for f in report.findings if f.code == "watermark-skipped"]
    assert "did not survive encoding" in note.message
    assert report.signature is not None and report.signature.status == "valid"
    assert not report.signature.watermark_checked
    with pytest.raises(VerificationFailed, match="did not survive"):
        seal(src, tmp_path / "strict.png", aigc, dataclasses.replace(FULL, watermark="require"),
             owned=False, premarked=True)
    assert not (tmp_path / "strict.png").exists() and no_temp_files(tmp_path)
