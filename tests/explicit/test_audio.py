"""Audible notices (GB 45438 §5.3), measured from the decoded output signal."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import mutagen
import numpy as np
import pytest
import soundfile
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from synthguard import inspect, label
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.audio import (
    GAP_S,
    LEAD_IN_S,
    VOICE_CLIP,
    VOICE_NOTICE,
    Rhythm,
    mark_audio,
)
from synthguard.explicit.wording import DEFAULT_ZH, NoticeError, check_notice
from synthguard.labels import AIGCLabel
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="audio-1")
RHYTHM = Rhythm()
ON_UNITS, OFF_UNITS = [1, 3, 1, 1], [1, 3, 1]  # ·−  ··  : short long short short
Signal = NDArray[np.float64]

# kind: (suffix, ffmpeg encoder arguments or None for soundfile, lossless?)
KINDS = {
    "wav16": (".wav", None, True),
    "wav24": (".wav", None, True),
    "wavfloat": (".wav", None, True),
    "flac": (".flac", None, True),
    "mp3": (".mp3", ["-c:a", "libmp3lame", "-b:a", "96k"], False),
    "vorbis": (".ogg", ["-c:a", "libvorbis", "-b:a", "96k"], False),
    "opus": (".opus", ["-c:a", "libopus", "-b:a", "64k"], False),
    "aac": (".m4a", ["-c:a", "aac", "-b:a", "96k"], False),
}
CODECS = {"wav16": "pcm_s16le", "wav24": "pcm_s24le", "wavfloat": "pcm_f32le", "flac": "flac",
          "mp3": "mp3", "vorbis": "vorbis", "opus": "opus", "aac": "aac"}


def content(rate: int, channels: int, seconds: float = 0.8, peak: float = 0.5) -> Signal:
    """Two partials well below the rhythm tone, different in each channel, so the content
    can be neither mistaken for the prompt nor confused between channels."""
    t = np.arange(round(seconds * rate)) / rate
    cols = [peak / 2 * (np.sin(2 * np.pi * (220 + 55 * c) * t) + np.sin(2 * np.pi * 330 * t))
            for c in range(channels)]
    return np.stack(cols, axis=1)


def make_input(tmp_path: Path, kind: str, rate: int, channels: int, **kw: float) -> Path:
    suffix, ffmpeg_args, _ = KINDS[kind]
    src = tmp_path / f"in-{kind}{suffix}"
    x = content(rate, channels, **kw)
    if ffmpeg_args is None:
        subtype = {"wav16": "PCM_16", "wav24": "PCM_24", "wavfloat": "FLOAT",
                   "flac": "PCM_24"}[kind]
        soundfile.write(src, x, rate, subtype=subtype)
        return src
    wav = tmp_path / f"pcm-{kind}.wav"
    soundfile.write(wav, x, rate, subtype="PCM_16")
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-i", str(wav), *ffmpeg_args,
                    str(src)], check=True, timeout=60)
    return src


@dataclass
class Decoded:
    native: NDArray[np.generic]  # (channels, samples) in the decoder's sample format
    signal: Signal  # the same as float, full scale = 1.0
    rate: int


def decode(path: Path) -> Decoded:
    parts = []
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            a = frame.to_ndarray()
            n = len(frame.layout.channels)
            parts.append(a if frame.format.is_planar else a.reshape(-1, n).T)
            rate, fmt = frame.sample_rate, frame.format
    native = np.concatenate(parts, axis=1)
    signal = native.astype(np.float64)
    if fmt.packed.name in ("s16", "s32"):
        signal /= 2.0 ** (8 * fmt.bytes - 1)
    return Decoded(native, signal, rate)


def tone_amplitude(x: Signal, rate: int, freq: float) -> tuple[Signal, Signal]:
    """Amplitude of the `freq` component in 8 ms Hann frames every 2 ms (a Goertzel-style
    single-bin DFT), with each frame's centre time."""
    win, hop = round(0.008 * rate), round(0.002 * rate)
    w = np.hanning(win)
    frames = sliding_window_view(x, win)[::hop]
    amp = np.abs(frames @ (w * np.exp(-2j * np.pi * freq * np.arange(win) / rate))) * 2 / w.sum()
    return (np.arange(len(amp)) * hop + win / 2) / rate, amp


def bursts(x: Signal, rate: int, rhythm: Rhythm = RHYTHM) -> list[tuple[float, float]]:
    """Tone bursts at the rhythm frequency: runs of frames above half the tone amplitude.
    Runs shorter than half a unit are speech formants passing through the band, not tones."""
    t, amp = tone_amplitude(x, rate, rhythm.frequency_hz)
    on = np.concatenate([[False], amp > 0.5 * 10 ** (rhythm.level_dbfs / 20), [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    runs = [(t[a], t[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return [(a, b) for a, b in runs if b - a >= rhythm.unit_s / 2]


def prompts(x: Signal, rate: int, rhythm: Rhythm = RHYTHM) -> list[list[tuple[float, float]]]:
    """Bursts grouped into prompts: a gap longer than a letter space starts a new one."""
    groups: list[list[tuple[float, float]]] = []
    for b in bursts(x, rate, rhythm):
        if groups and b[0] - groups[-1][-1][1] < 5 * rhythm.unit_s:
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


def assert_short_long_short_short(group: list[tuple[float, float]], rhythm: Rhythm = RHYTHM,
                                  tolerance: float = 0.012) -> None:
    on = [b - a for a, b in group]
    off = [group[i + 1][0] - group[i][1] for i in range(len(group) - 1)]
    assert len(on) == 4, f"expected 4 bursts, measured {on}"
    assert np.allclose(on, np.array(ON_UNITS) * rhythm.unit_s, atol=tolerance), on
    assert np.allclose(off, np.array(OFF_UNITS) * rhythm.unit_s, atol=tolerance), off


def speech_span(x: Signal, rate: int, floor_db: float = 40.0) -> tuple[float, float]:
    """First and last 10 ms frame within `floor_db` of the loudest frame."""
    n = round(0.01 * rate)
    frames = x[: len(x) // n * n].reshape(-1, n)
    energy = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-20)
    active = np.flatnonzero(energy > energy.max() - floor_db)
    return active[0] * n / rate, (active[-1] + 1) * n / rate


def speech_band_fraction(x: Signal, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(f >= 300) & (f <= 3400)].sum() / spectrum.sum())


def ffprobe_stream(path: Path) -> dict[str, str]:
    out = subprocess.run([require_tool("ffprobe"), "-v", "error", "-select_streams", "a:0",
                          "-show_entries", "stream=codec_name,sample_rate,channels,bit_rate",
                          "-of", "json", str(path)], capture_output=True, check=True, timeout=60)
    stream: dict[str, str] = json.loads(out.stdout)["streams"][0]
    return stream


def best_correlation(a: Signal, b: Signal, max_lag: int) -> float:
    """Highest normalised correlation of `a` against `b` (same length) shifted by up to
    `max_lag` samples either way."""
    core = a[max_lag:-max_lag]
    products = np.correlate(b, core, mode="valid")
    cumulative = np.concatenate([[0.0], np.cumsum(b ** 2)])
    energy = cumulative[len(core):] - cumulative[:-len(core)]
    return float((products / (np.linalg.norm(core) * np.sqrt(energy) + 1e-12)).max())


CASES = [("wav16", 16000, 1), ("wav16", 44100, 2), ("wav24", 44100, 1), ("wavfloat", 48000, 2),
         ("flac", 48000, 1), ("flac", 44100, 2), ("mp3", 16000, 1), ("mp3", 44100, 2),
         ("vorbis", 44100, 1), ("vorbis", 16000, 2), ("opus", 48000, 1), ("opus", 48000, 2),
         ("aac", 48000, 1), ("aac", 16000, 2)]


@pytest.mark.parametrize(("kind", "rate", "channels"), CASES)
def test_rhythm_at_both_ends(tmp_path: Path, kind: str, rate: int, channels: int) -> None:
    lossless = KINDS[kind][2]
    src = make_input(tmp_path, kind, rate, channels, peak=0.89 if lossless else 0.5)
    out = tmp_path / f"out{src.suffix}"
    result = mark_audio(src, out, position="both", label=LABEL)
    probe = ffprobe_stream(out)
    assert (probe["codec_name"], int(probe["sample_rate"]), int(probe["channels"])) == (
        CODECS[kind], rate, channels)
    marked, original = decode(out), decode(src)
    assert marked.rate == rate and marked.signal.shape[0] == channels
    duration = marked.signal.shape[1] / rate
    for ch in {0, channels - 1}:  # the prompt sounds in every channel
        groups = prompts(marked.signal[ch], rate)
        assert len(groups) == 2, groups
        for group in groups:
            assert_short_long_short_short(group)
        assert abs(groups[0][0][0] - LEAD_IN_S) < 0.01  # first burst at the very start
        assert duration - groups[1][-1][1] < 0.06  # last burst at the very end (codec padding)
    assert np.abs(marked.signal).max() < 1.0
    for begin, end in result.prompt_spans:
        prompt = marked.signal[:, round(begin * rate): round(end * rate)]
        assert abs(20 * np.log10(np.abs(prompt).max()) - RHYTHM.level_dbfs) < (
            0.2 if lossless else 1.5)
    start = round(result.content_start_s * rate)
    assert result.content_start_s == pytest.approx(LEAD_IN_S + RHYTHM.duration_s + GAP_S,
                                                   abs=1e-3)
    n = original.native.shape[1]
    if lossless:  # the content is passed through bit for bit, never normalised
        np.testing.assert_array_equal(marked.native[:, start:start + n], original.native)
    else:
        for ch in range(channels):
            corr = best_correlation(original.signal[ch], marked.signal[ch, start:start + n],
                                    round(0.01 * rate))
            assert corr > 0.95
    report = inspect(out)
    assert report.verdict == "compliant" and report.label == LABEL


@pytest.mark.parametrize("kind", ["wav16", "opus"])
@pytest.mark.parametrize("position", ["start", "end"])
def test_one_end_only(tmp_path: Path, kind: str, position: str) -> None:
    src = make_input(tmp_path, kind, 48000, 1)
    out = tmp_path / f"out{src.suffix}"
    result = mark_audio(src, out, position=position)  # type: ignore[arg-type]
    x = decode(out).signal[0]
    groups = prompts(x, 48000)
    assert len(groups) == 1
    assert_short_long_short_short(groups[0])
    if position == "start":
        assert abs(groups[0][0][0] - LEAD_IN_S) < 0.01
    else:
        assert len(x) / 48000 - groups[0][-1][1] < 0.02
        assert result.content_start_s == 0.0
    assert not result.labeled  # the input had no label to keep


def test_custom_rhythm_timing_and_no_clicks(tmp_path: Path) -> None:
    rhythm = Rhythm(frequency_hz=1500.0, unit_s=0.06, level_dbfs=-12.0, ramp_s=0.008)
    src = make_input(tmp_path, "wav16", 44100, 1)
    out = tmp_path / "out.wav"
    mark_audio(src, out, rhythm=rhythm)
    x = decode(out).signal[0]
    groups = prompts(x, 44100, rhythm)
    assert len(groups) == 1
    assert_short_long_short_short(groups[0], rhythm, tolerance=0.008)
    # No clicks: the raised-cosine gating keeps the prompt's spectrum narrow. Far from the
    # tone (beyond ±1 kHz) the energy is 60 dB down; hard gating leaves it ~25 dB down.
    prompt = x[round(LEAD_IN_S * 44100): round((LEAD_IN_S + rhythm.duration_s) * 44100)]
    spectrum = np.abs(np.fft.rfft(prompt)) ** 2
    f = np.fft.rfftfreq(len(prompt), 1 / 44100)
    far = spectrum[np.abs(f - rhythm.frequency_hz) > 1000].sum() / spectrum.sum()
    assert 10 * np.log10(far) < -60


def test_shipped_voice_clip_speaks_at_normal_rate() -> None:
    """GB 45438 §5.3 e) 注4: 120–160 Chinese characters per minute. The shipped clip says
    本内容由人工智能生成 (10 characters) in about 4.26 s of speech: about 141 per minute."""
    assert check_notice(VOICE_NOTICE) == DEFAULT_ZH
    assert VOICE_CLIP.stat().st_size < 100_000
    clip = decode(VOICE_CLIP)
    a, b = speech_span(clip.signal[0], clip.rate)
    per_minute = len(VOICE_NOTICE) * 60 / (b - a)
    assert 120 <= per_minute <= 160, per_minute
    assert 135 <= per_minute <= 147  # as generated: espeak-ng at 124 words per minute


@pytest.mark.parametrize(("kind", "rate", "channels"), [("wav16", 44100, 2), ("aac", 16000, 1)])
def test_rhythm_then_voice(tmp_path: Path, kind: str, rate: int, channels: int) -> None:
    src = make_input(tmp_path, kind, rate, channels)
    out = tmp_path / f"out{src.suffix}"
    result = mark_audio(src, out, prompt="both", position="start", label=LABEL)
    x = decode(out).signal[0]
    groups = prompts(x, rate)
    assert len(groups) == 1
    assert_short_long_short_short(groups[0])
    rhythm_end = LEAD_IN_S + RHYTHM.duration_s
    voice_start = rhythm_end + GAP_S
    voice = x[round(voice_start * rate): round((result.content_start_s - GAP_S) * rate)]
    silence = x[round((rhythm_end + 0.02) * rate): round((voice_start - 0.02) * rate)]
    assert np.abs(silence).max() < 1e-3
    assert speech_band_fraction(voice, rate) > 0.5
    a, b = speech_span(voice, rate)
    assert a < 0.05 and len(voice) / rate - b < 0.1  # speech fills the clip's span
    assert 120 <= len(VOICE_NOTICE) * 60 / (b - a) <= 160
    assert np.abs(x).max() < 1.0
    assert inspect(out).verdict == "compliant"


def test_user_voice_clip_is_resampled_to_the_content(tmp_path: Path) -> None:
    # A 1.5 s "clip" at 22.05 kHz stereo: a 400–2400 Hz sweep, easy to find again.
    t = np.arange(round(1.5 * 22050)) / 22050
    sweep = 0.4 * np.sin(2 * np.pi * (400 * t + 1000 * t ** 2 / 1.5))
    clip = tmp_path / "clip.flac"
    soundfile.write(clip, np.stack([sweep, sweep], axis=1), 22050)
    src = make_input(tmp_path, "flac", 48000, 2)
    out = tmp_path / "out.flac"
    result = mark_audio(src, out, prompt="voice", position="end", voice_clip=clip)
    marked = decode(out)
    assert marked.rate == 48000 and marked.signal.shape[0] == 2
    (begin, end), = result.prompt_spans
    a, b = speech_span(marked.signal[1, round(begin * 48000):], 48000, floor_db=20)
    assert b - a == pytest.approx(1.5, abs=0.02)  # the duration survives resampling
    assert 20 * np.log10(np.abs(marked.signal[:, round(begin * 48000):]).max()) == \
        pytest.approx(-6.0, abs=0.2)
    assert end == pytest.approx(marked.signal.shape[1] / 48000, abs=1e-3)


def test_in_place_keeps_the_input_label(tmp_path: Path) -> None:
    src = make_input(tmp_path, "mp3", 44100, 2)
    label(src, producer=PRODUCER, produce_id="kept-1")
    mark_audio(src)
    report = inspect(src)
    assert report.verdict == "compliant" and report.label is not None
    assert report.label.fields()["ProduceID"] == "kept-1"
    assert len(prompts(decode(src).signal[0], 44100)) == 1
    assert not list(tmp_path.glob(".*sgtmp*"))


def test_bitrate_follows_the_input(tmp_path: Path) -> None:
    for kind, expected in (("mp3", 96000), ("vorbis", 96000)):
        src = make_input(tmp_path, kind, 44100, 2)
        out = tmp_path / f"out{src.suffix}"
        mark_audio(src, out)
        # MP3 is CBR at the input's rate; Vorbis records its nominal rate in its header.
        assert int(ffprobe_stream(out)["bit_rate"]) == expected
    src = make_input(tmp_path, "aac", 44100, 2)
    mark_audio(src, tmp_path / "out.m4a")
    ratio = int(ffprobe_stream(tmp_path / "out.m4a")["bit_rate"]) / int(
        ffprobe_stream(src)["bit_rate"])
    assert 0.6 < ratio < 1.5


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".m4a", ".ogg"])
def test_tags_and_cover_art_are_kept(tmp_path: Path, suffix: str) -> None:
    wav = make_input(tmp_path, "wav16", 44100, 2)
    cover = tmp_path / "cover.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 20, 20)).save(cover)
    src = tmp_path / f"tagged{suffix}"
    codec = {".mp3": "libmp3lame", ".flac": "flac", ".m4a": "aac", ".ogg": "libvorbis"}[suffix]
    art = [] if suffix == ".ogg" else ["-i", str(cover), "-map", "0:a", "-map", "1",
                                       "-c:v", "copy", "-disposition:v", "attached_pic"]
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-i", str(wav), *art,
                    "-c:a", codec, "-metadata", "title=Song", "-metadata", "AIGC=stale",
                    str(src)], check=True, timeout=60)
    out = tmp_path / f"out{suffix}"
    mark_audio(src, out, label=LABEL)
    tags = mutagen.File(out)
    text = {".mp3": "TIT2", ".flac": "title", ".m4a": "\xa9nam", ".ogg": "title"}[suffix]
    assert str(tags[text][0] if suffix != ".mp3" else tags[text]) == "Song"
    if suffix == ".mp3":
        assert tags.tags.getall("APIC")[0].data == cover.read_bytes()
    elif suffix == ".flac":
        assert tags.pictures[0].data == cover.read_bytes()
    elif suffix == ".m4a":
        assert bytes(tags["covr"][0]) == cover.read_bytes()
    report = inspect(out)  # the stale AIGC tag is gone: one label, the new one
    assert report.verdict == "compliant" and report.label == LABEL


def _no_output(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not list(tmp_path.glob(".*sgtmp*"))


def test_zero_length_audio(tmp_path: Path) -> None:
    for codec, fmt in (("pcm_s16le", "wav"), ("flac", "flac"), ("aac", "mp4")):
        src = tmp_path / f"empty.{fmt}"
        with av.open(str(src), "w", format=fmt) as container:  # headers, no samples
            stream = container.add_stream(codec, rate=44100)
            container.start_encoding()
            container.mux(stream.encode(None))
        out = tmp_path / f"out.{fmt}"
        with pytest.raises((MalformedFile, UnsupportedFormat), match="no audio") as err:
            mark_audio(src, out)
        assert str(src) in str(err.value)
        _no_output(tmp_path, out)
    src = tmp_path / "zero.wav"
    src.write_bytes(b"")
    with pytest.raises(MalformedFile, match="empty file"):
        mark_audio(src, tmp_path / "out.wav")
    _no_output(tmp_path, tmp_path / "out.wav")


def test_corrupt_input(tmp_path: Path) -> None:
    good = make_input(tmp_path, "flac", 44100, 1)
    rng = np.random.default_rng(7)
    cases = {
        "riff.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + rng.bytes(200),
        "cut.flac": good.read_bytes()[:60],
        "id3.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(2000),
        "page.ogg": b"OggS" + rng.bytes(300),
    }
    for name, data in cases.items():
        src = tmp_path / name
        src.write_bytes(data)
        out = tmp_path / f"out-{name}"
        with pytest.raises((MalformedFile, UnsupportedFormat)) as err:
            mark_audio(src, out)
        assert str(src) in str(err.value) and "\n" not in str(err.value)
        _no_output(tmp_path, out)


def test_32_bit_flac_is_refused_not_truncated(tmp_path: Path) -> None:
    """FLAC stores at most 24 bits of a decoded s32 sample when re-encoding: content with
    32 significant bits would lose 8 of them, so it is refused."""
    src = tmp_path / "deep.flac"
    samples = np.random.default_rng(3).integers(-2 ** 30, 2 ** 30, (1, 4410), dtype=np.int32)
    with av.open(str(src), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=44100, options={
            "strict": "experimental", "bits_per_raw_sample": "32"})
        stream.codec_context.layout = "mono"
        stream.codec_context.format = "s32"
        frame = av.AudioFrame.from_ndarray(samples, format="s32", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    np.testing.assert_array_equal(decode(src).native, samples)  # a real 32-bit FLAC
    out = tmp_path / "out.flac"
    with pytest.raises(UnsupportedFormat, match="more than 24 bits"):
        mark_audio(src, out)
    _no_output(tmp_path, out)


def test_unsupported_input(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "image.png"
    Image.new("RGB", (8, 8)).save(png)
    wav = make_input(tmp_path, "wav16", 16000, 1)
    adpcm = tmp_path / "adpcm.wav"
    video = tmp_path / "video.mp4"
    ffmpeg = require_tool("ffmpeg")
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-c:a", "adpcm_ms",
                    str(adpcm)], check=True, timeout=60)
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:s=32x32:d=0.2", "-i", str(wav), "-shortest", "-c:v",
                    "mpeg4", "-c:a", "aac", str(video)], check=True, timeout=60)
    # MP3 frames at 16 kHz, then at 44.1 kHz: one output stream cannot hold both rates.
    mixed = tmp_path / "mixed.mp3"
    for rate in (16000, 44100):
        part = tmp_path / f"part{rate}.mp3"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=f=300:d=0.5:r={rate}", "-c:a", "libmp3lame", "-write_xing", "0",
                        "-id3v2_version", "0", str(part)], check=True, timeout=60)
        with mixed.open("ab") as f:
            f.write(part.read_bytes())
    for src, why in ((png, "png files are unsupported"), (adpcm, "adpcm_ms audio"),
                     (video, "video stream"), (mixed, "changes sample rate")):
        out = tmp_path / f"out{src.suffix}"
        with pytest.raises(UnsupportedFormat, match=why):
            mark_audio(src, out)
        _no_output(tmp_path, out)


def test_bad_notice_settings_leave_no_output(tmp_path: Path) -> None:
    src = make_input(tmp_path, "wav16", 16000, 1)
    out = tmp_path / "out.wav"
    out.write_bytes(b"previous")
    with pytest.raises(NoticeError, match="voice notice clip not found"):
        mark_audio(src, out, prompt="voice", voice_clip=tmp_path / "missing.opus")
    broken = tmp_path / "broken.opus"
    broken.write_bytes(b"OggS" + bytes(100))
    with pytest.raises(MalformedFile, match=r"broken\.opus"):
        mark_audio(src, out, prompt="both", voice_clip=broken)
    for name, signal, why in (
            ("silent.flac", np.zeros(8000), "is silent"),
            ("long.flac", 0.1 * np.sin(np.arange(8000 * 31) * 0.3), "longer than 30 s")):
        soundfile.write(tmp_path / name, signal, 8000)
        with pytest.raises(NoticeError, match=why):
            mark_audio(src, out, prompt="voice", voice_clip=tmp_path / name)
    with pytest.raises(NoticeError, match="prompt"):
        mark_audio(src, out, prompt="beep")  # type: ignore[arg-type]
    with pytest.raises(NoticeError, match="position"):
        mark_audio(src, out, position="middle")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFormat, match="is a directory"):
        mark_audio(src, tmp_path)
    assert out.read_bytes() == b"previous"  # a failed run leaves the old file alone
    assert not list(tmp_path.glob(".*sgtmp*"))
    for bad in ({"frequency_hz": 50.0}, {"unit_s": 1.0}, {"level_dbfs": 0.0},
                {"ramp_s": 0.08}):
        with pytest.raises(NoticeError):
            Rhythm(**bad)  # type: ignore[arg-type]
    with pytest.raises(NoticeError, match="too high"):
        Rhythm(frequency_hz=4000.0).render(8000)
