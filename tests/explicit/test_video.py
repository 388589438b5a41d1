"""Visible video notices (GB 45438 §5.4), measured on the decoded output frames.

Fixture videos are made with PyAV: a moving colour gradient (never near-black nor
near-white grey, so notice ink cannot be confused with content) and a real audio track.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from synthguard import inspect, label
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.image import FONT_PATH
from synthguard.explicit.video import MIN_OPENING_SECONDS, mark_video
from synthguard.explicit.video_overlay import (
    Compositor,
    Marks,
    composite,
    layout,
    overlay,
    patches,
    planes,
)
from synthguard.explicit.wording import NoticeError
from synthguard.labels import AIGCLabel
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="video-1")
FPS = 25
FAST = {"libx264": {"preset": "ultrafast"},
        "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"}}


def make_video(path: Path, size: tuple[int, int], *, vcodec: str = "libx264",
               acodec: str | None = "aac", seconds: float = 4.0, fmt: str | None = None,
               pix_fmt: str = "yuv420p") -> Path:
    w, h = size
    base = np.arange(w)[None, :] * 255 // w + np.arange(h)[:, None] * 255 // h
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=FPS)
        video.width, video.height, video.pix_fmt = w, h, pix_fmt
        video.codec_context.options = FAST.get(vcodec, {})
        audio = out.add_stream(acodec, rate=48000) if acodec else None
        if audio is not None:
            audio.layout = "stereo"
        for i in range(round(seconds * FPS)):
            v = ((base + i * 8) % 256).astype(np.uint8)
            rgb = np.ascontiguousarray(np.stack([v, 255 - v, v], axis=2))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            _tone(out, audio, seconds)
    return path


def _tone(out: Any, audio: Any, seconds: float) -> None:
    fmt = audio.codec_context.format.name
    n, rate = audio.codec_context.frame_size or 1024, 48000
    for start in range(0, int(seconds * rate), n):
        s = 0.2 * np.sin(2 * np.pi * 440 * np.arange(start, start + n) / rate)
        a = np.stack([s, s])
        a = (a * 32767).astype(np.int16) if fmt.startswith("s16") else \
            (a * 2**31 - 1).astype(np.int32) if fmt.startswith("s32") else a.astype(np.float32)
        if not fmt.endswith("p"):
            a = a.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(a), format=fmt, layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


@dataclass
class Notice:
    """What one decoded frame shows in the requested region."""

    time: float
    ink: int  # pixels of neutral, extreme text ink
    glyph_rows: int  # height of the tallest run of ink rows
    centre: tuple[float, float]
    plate: float  # share of plate pixels around the ink


def find_notice(rgb: np.ndarray, t: float) -> Notice:
    a = rgb
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    # Black text on a light plate, or white text on a dark one. The thresholds sit beyond
    # what the plate itself can reach: it lets a fifth (light) or a third (dark) of the
    # content through, and the content is never grey.
    dark = np.maximum(np.maximum(r, g), b) <= 30
    light = np.minimum(np.minimum(r, g), b) >= 235
    ink = dark if dark.sum() >= light.sum() else light
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return Notice(t, 0, 0, (math.nan, math.nan), 0.0)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    # Row height at half contrast between the ink and the plate, as a viewer sees it.
    grey = a[max(0, y0 - 2):y1 + 2, x0:x1].mean(axis=2, dtype=np.float32)
    mid = (grey.min() + grey.max()) / 2
    rows = np.nonzero(((grey <= mid) if ink is dark else (grey >= mid)).any(axis=1))[0]
    runs, start, prev = [], rows[0], rows[0]
    for r in rows[1:]:
        if r - prev > 3:
            runs.append(prev - start + 1)
            start = r
        prev = r
    runs.append(prev - start + 1)
    # The plate: the rows two pixels above and below the ink lie in its padding; it darkens
    # (under white ink) or lightens (under black ink) whatever content is beneath.
    border = np.concatenate([a[max(0, y0 - 2), x0:x1], a[min(len(a) - 1, y1 + 1), x0:x1]])
    plate = (border.max(axis=1) <= 110) if ink is light else (border.min(axis=1) >= 160)
    return Notice(t, int(ink.sum()), max(runs), ((x0 + x1) / 2, (y0 + y1) / 2),
                  float(plate.mean()))


def assert_placed(f: Notice, position: str, size: tuple[int, int]) -> None:
    """The notice sits at the requested edge, in the requested corner."""
    (w, h), (cx, cy) = size, f.centre
    if position.endswith("left"):
        assert cx < w / 2
    elif position.endswith("right"):
        assert cx > w / 2
    else:
        assert abs(cx - w / 2) < w * 0.05
    assert (cy < h * 0.2) if position.startswith("top") else (cy > h * 0.8)


def decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        frames = [(f.time or 0.0, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    t0 = frames[0][0]
    return [(t - t0, a) for t, a in frames]


def audio_packets(path: Path) -> list[tuple[bytes, Fraction | None]]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        return [(bytes(p), p.pts * p.time_base if p.pts is not None else None)
                for p in c.demux(stream) if p.size]


def ffprobe(path: Path) -> dict[str, Any]:
    exe = require_tool("ffprobe")
    out = subprocess.run([exe, "-v", "error", "-show_format", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, check=True, timeout=60)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


CASES = {
    # name: (file, size, vcodec, acodec, position, persistent)
    "mp4": ("in.mp4", (320, 240), "libx264", "aac", "top-left", False),
    "mkv-720p": ("in.mkv", (1280, 720), "libx264", "libopus", "bottom-right", False),
    "webm-portrait": ("in.webm", (360, 640), "libvpx-vp9", "libopus", "top-right", False),
    "mov-persistent": ("in.mov", (320, 240), "libx264", "aac", "bottom-left", True),
    "avi": ("in.avi", (320, 240), "mpeg4", "libmp3lame", "top", False),
}


@dataclass
class Marked:
    src: Path
    out: Path
    size: tuple[int, int]
    position: str
    persistent: bool
    result: Any
    frames: list[Notice]


@pytest.fixture(scope="module", params=sorted(CASES))
def marked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Marked:
    name, size, vcodec, acodec, position, persistent = CASES[request.param]
    d = tmp_path_factory.mktemp(request.param)
    src = make_video(d / name, size, vcodec=vcodec, acodec=acodec)
    out = d / f"out{src.suffix}"
    encoder = {"libx264": "libx264", "libvpx-vp9": "libvpx-vp9"}.get(vcodec)
    # The smallest case runs the default (slower, better) encoder settings.
    options = None if request.param == "mp4" else FAST.get(encoder or "")
    result = mark_video(src, out, position=position, persistent=persistent,  # type: ignore[arg-type]
                        label=LABEL, encoder_options=options)
    frames = [find_notice(a, t) for t, a in decoded(out)]
    return Marked(src, out, size, position, persistent, result, frames)


def test_every_opening_frame_shows_the_notice_in_its_corner(marked: Marked) -> None:
    w, h = marked.size
    target = math.ceil(0.05 * min(w, h))
    opening = [f for f in marked.frames if f.time < marked.result.opening_seconds - 1e-6]
    assert len(opening) >= MIN_OPENING_SECONDS * FPS
    assert marked.result.marked_frames == len(opening)
    for f in opening:
        assert f.ink > 0, f"no notice at {f.time:.2f} s"
        assert f.glyph_rows >= target, f"glyphs {f.glyph_rows}px < {target}px at {f.time:.2f} s"
        assert f.plate > 0.9, f"no contrast plate at {f.time:.2f} s"
        assert_placed(f, marked.position, marked.size)


def test_after_the_opening_span_only_the_persistent_mark(marked: Marked) -> None:
    target = math.ceil(0.05 * min(marked.size))
    later = [f for f in marked.frames if f.time >= marked.result.opening_seconds - 1e-6]
    assert len(later) >= FPS // 2  # the fixture is longer than the opening span
    if not marked.persistent:
        assert all(f.ink == 0 for f in later), [f.time for f in later if f.ink]
        return
    opening_ink = max(f.ink for f in marked.frames if f.time < 2.0)
    for f in later:
        assert 0 < f.ink < opening_ink  # the short mark: present, and smaller
        assert f.glyph_rows >= target and f.plate > 0.9
        assert_placed(f, marked.position, marked.size)


def test_audio_packets_are_copied_untouched(marked: Marked) -> None:
    before, after = audio_packets(marked.src), audio_packets(marked.out)
    assert len(before) > 100
    assert [b for b, _ in after] == [b for b, _ in before]
    assert [t for _, t in after] == [t for _, t in before]


def test_frames_duration_size_and_codec_kept(marked: Marked) -> None:
    before, after = ffprobe(marked.src), ffprobe(marked.out)
    v0 = next(s for s in before["streams"] if s["codec_type"] == "video")
    v1 = next(s for s in after["streams"] if s["codec_type"] == "video")
    for key in ("codec_name", "width", "height", "pix_fmt", "r_frame_rate"):
        assert v1[key] == v0[key], key
    assert [s["codec_type"] for s in after["streams"]] == \
        [s["codec_type"] for s in before["streams"]]
    assert abs(len(marked.frames) - round(4.0 * FPS)) <= 1
    assert abs(float(after["format"]["duration"]) - float(before["format"]["duration"])) \
        <= 1 / FPS + 1e-3
    assert after["format"]["format_name"] == before["format"]["format_name"]


def test_implicit_label_written_and_read_by_ffprobe(marked: Marked) -> None:
    assert ffprobe(marked.out)["format"]["tags"]["AIGC"] == LABEL.to_json()
    report = inspect(marked.out)
    assert report.verdict == "compliant"
    assert report.label == LABEL
    assert marked.result.label == LABEL


def test_the_source_label_is_carried_over_and_in_place_works(tmp_path: Path) -> None:
    src = make_video(tmp_path / "v.mp4", (320, 240), seconds=2.5)
    label(src, producer=PRODUCER, produce_id="src-7")
    before = inspect(src).label
    result = mark_video(src, opening_seconds=2.0, encoder_options={"preset": "ultrafast"})
    assert result.path == str(src) and result.label == before
    assert inspect(src).label == before
    assert all(find_notice(a, t).ink for t, a in decoded(src) if t < 2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_rotated_video_is_marked_as_displayed(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    plain = make_video(tmp_path / "plain.mp4", (320, 240), seconds=3.0)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(plain), "-c", "copy",
                    "-metadata:s:v:0", "rotate=90", str(rotated)], check=True, timeout=60)
    out = tmp_path / "out.mp4"
    mark_video(rotated, out, opening_seconds=2.0, encoder_options={"preset": "ultrafast"})
    frames = decoded(out)
    assert frames[0][1].shape[:2] == (320, 240)  # displayed portrait: stored landscape turned
    first = find_notice(frames[0][1], 0.0)
    assert first.ink and first.centre[0] < 120 and first.centre[1] < 64
    # ffmpeg's own auto-rotation is the oracle for the orientation of the picture.
    ref = subprocess.run([ffmpeg, "-v", "error", "-i", str(rotated), "-vf",
                          "select=eq(n\\,60)", "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True,
                         timeout=60).stdout
    expected = np.frombuffer(ref, np.uint8).reshape(320, 240, 3).astype(int)
    assert np.abs(frames[60][1].astype(int) - expected).mean() < 4


def test_subtitles_attachments_and_timecode_are_copied(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    base = make_video(tmp_path / "base.mp4", (320, 240), seconds=2.5)
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nHello\n", encoding="utf-8")
    font = tmp_path / "note.txt"
    font.write_text("attachment", encoding="utf-8")
    mov, mkv = tmp_path / "sub.mov", tmp_path / "sub.mkv"
    run = [ffmpeg, "-v", "error", "-i", str(base), "-i", str(srt), "-map", "0", "-map", "1",
           "-c", "copy"]
    subprocess.run([*run, "-c:s", "mov_text", "-timecode", "01:00:00:00", str(mov)],
                   check=True, timeout=60)
    subprocess.run([*run, "-c:s", "srt", "-attach", str(font), "-metadata:s:t",
                    "mimetype=text/plain", str(mkv)], check=True, timeout=60)
    for src in (mov, mkv):
        out = tmp_path / f"out{src.suffix}"
        mark_video(src, out, opening_seconds=2.0, label=LABEL,
                   encoder_options={"preset": "ultrafast"})
        kinds = [(s["codec_type"], s.get("codec_name")) for s in ffprobe(out)["streams"]]
        assert kinds == [(s["codec_type"], s.get("codec_name"))
                         for s in ffprobe(src)["streams"]]
        with av.open(str(src)) as a, av.open(str(out)) as b:
            subs = [bytes(p) for p in a.demux(a.streams.subtitles[0]) if p.size]
            assert subs and subs == [bytes(p) for p in b.demux(b.streams.subtitles[0]) if p.size]
        assert inspect(out).verdict == "compliant"
    tags = ffprobe(tmp_path / "out.mov")["streams"][0]["tags"]
    assert tags["timecode"] == "01:00:00:00"


def test_cover_picture_copied_and_edit_list_cut_accepted(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    base = make_video(tmp_path / "base.mp4", (320, 240), seconds=4.0)
    cover_png = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(cover_png)
    cover = tmp_path / "cover.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(base), "-i", str(cover_png), "-map", "0",
                    "-map", "1", "-c", "copy", "-disposition:v:1", "attached_pic", str(cover)],
                   check=True, timeout=60)
    # A stream copy from 1.3 s starts at a keyframe before it: the edit list hides the
    # frames before 1.3 s, so fewer frames decode than the track holds; not truncation.
    cut = tmp_path / "cut.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-ss", "1.3", "-i", str(base), "-c", "copy",
                    str(cut)], check=True, timeout=60)
    fast = {"preset": "ultrafast"}
    mark_video(cover, tmp_path / "o1.mp4", opening_seconds=2.0, encoder_options=fast)
    with av.open(str(cover)) as a, av.open(str(tmp_path / "o1.mp4")) as b:
        assert b.streams[2].disposition & av.stream.Disposition.attached_pic
        assert [bytes(p) for p in a.demux(a.streams[2]) if p.size] == \
            [bytes(p) for p in b.demux(b.streams[2]) if p.size]
    result = mark_video(cut, tmp_path / "o2.mp4", opening_seconds=2.0, encoder_options=fast)
    with av.open(str(cut)) as c:
        assert c.streams.video[0].frames > result.frames  # the case this is about
    assert result.frames == len(decoded(cut)) and abs(result.frames - 2.7 * FPS) <= 1
    assert result.marked_frames >= 2 * FPS


def test_bad_inputs_leave_nothing(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 40)
    good = make_video(tmp_path / "good.mp4", (320, 240), seconds=2.5)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:3000])  # the moov box is at the end
    ffmpeg = require_tool("ffmpeg")
    faststart, halves = tmp_path / "faststart.mp4", []
    subprocess.run([ffmpeg, "-v", "error", "-i", str(good), "-c", "copy", "-movflags",
                    "+faststart", str(faststart)], check=True, timeout=60)
    mkv = make_video(tmp_path / "good.mkv", (320, 240), acodec="libopus", seconds=2.5)
    for whole in (faststart, mkv):  # index first, media cut off: demuxes without error
        half = tmp_path / f"half{whole.suffix}"
        half.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
        halves.append(half)
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(good)) as a, av.open(str(audio_only), "w", format="ipod") as b:
        copy = b.add_stream_from_template(a.streams.audio[0])
        for p in a.demux(a.streams.audio[0]):
            if p.size:
                p.stream = copy
                b.mux(p)
    two = tmp_path / "two.mkv"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(good), "-map", "0:v",
                    "-map", "0:v", "-c", "copy", str(two)], check=True, timeout=60)
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    cases: list[tuple[Path, type[Exception], str, dict[str, Any]]] = [
        (garbage, MalformedFile, "not a readable video", {}),
        (truncated, MalformedFile, "truncated.mp4", {}),
        (halves[0], MalformedFile, "truncated: the video stream declares", {}),
        (halves[1], MalformedFile, "truncated: the video stream declares", {}),
        (audio_only, UnsupportedFormat, "no video stream", {}),
        (two, UnsupportedFormat, "2 video streams", {}),
        (good, NoticeError, "generation element", {"notice": "AI"}),
        (good, NoticeError, "2.0 s", {"opening_seconds": 1.9}),
        (good, NoticeError, "position", {"position": "middle"}),
    ]
    for src, error, message, kwargs in cases:
        with pytest.raises(error, match=message):
            mark_video(src, existing, **kwargs)
        assert existing.read_bytes() == b"keep me"
    tiny = make_video(tmp_path / "tiny.mkv", (16, 16), acodec=None, seconds=0.2)
    with pytest.raises(NoticeError, match="too small"):
        mark_video(tiny, tmp_path / "tiny-out.mkv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audio.m4a", "existing.mp4", "faststart.mp4", "garbage.mp4", "good.mkv", "good.mp4",
        "half.mkv", "half.mp4", "tiny.mkv", "truncated.mp4", "two.mkv"]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le",
                                     "gbrp", "gray", "yuva420p", "nv12", "rgb24", "pal8"])
@pytest.mark.parametrize("size", [(321, 241), (200, 150)])
def test_compositing_matches_the_rendered_notice(pix_fmt: str, size: tuple[int, int]) -> None:
    """Blending into the planes gives the picture an RGB alpha-composite would, in every
    pixel format, and leaves every sample outside the notice exactly as it was."""
    w, h = size
    # Darker than mid-grey on average: the compositor picks the dark plate, as `drawn` has.
    rgb = np.random.default_rng(7).integers(20, 170, (h, w, 3), dtype=np.uint8)

    def frame() -> av.VideoFrame:
        if pix_fmt == "pal8":  # swscale cannot write a palette; PIL quantizes instead
            img = Image.fromarray(rgb).quantize(256)
            pal = np.asarray(img.getpalette() or [], np.uint8).reshape(-1, 3)
            argb = np.zeros((256, 4), np.uint8)
            argb[:, 0], argb[:len(pal), 1:] = 255, pal
            return av.VideoFrame.from_ndarray((np.asarray(img), argb), format="pal8")
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)

    lay = layout(size, "本内容由人工智能生成", "bottom-right")
    drawn = overlay(size, lay, FONT_PATH, light=False)
    # swscale cannot write a palette: such a source is encoded as RGB.
    out_fmt = "rgb24" if pix_fmt == "pal8" else pix_fmt
    compositor = Compositor(Marks(size, 0, lay, 10.0, None), pix_fmt, out_fmt)
    work = frame().reformat(format=compositor.work_format)  # packed formats: a planar twin
    before = [p.copy() for p in planes(work)]
    before_rgb = work.to_ndarray(format="rgb24").astype(int)
    # The whole frame as the box: the chroma-aligned box runs past odd edges.
    composite(work, patches(drawn, (0, 0, w, h), work))
    x0, y0, x1, y1 = lay.plate
    for old, new in zip(before, planes(work), strict=True):
        fx, fy = round(w / old.shape[1]), round(h / old.shape[0])
        outside = np.ones(old.shape, bool)
        # PIL draws the plate's far edges inclusive: one more row and column.
        outside[y0 // fy:-(-(y1 + 1) // fy), x0 // fx:-(-(x1 + 1) // fx)] = False
        assert np.array_equal(old[outside], new[outside])
    expected = Image.alpha_composite(
        Image.fromarray(before_rgb.astype(np.uint8)).convert("RGBA"), drawn)
    want = np.asarray(expected.convert("RGB")).astype(int)[y0:y1, x0:x1]
    got = work.to_ndarray(format="rgb24").astype(int)[y0:y1, x0:x1]
    if pix_fmt == "gray":
        want = want.mean(axis=2, keepdims=True)
        got = got.mean(axis=2, keepdims=True)
    assert np.abs(got - want).mean() < 4  # subsampled chroma smears colour at glyph edges
    ink = np.asarray(drawn.crop(lay.plate).getchannel("R")) > 250
    assert got[ink].mean() >= 240  # white text stays white
    # Through the whole compositor (and back to the packed format) the notice is there too.
    out = compositor(frame(), 25.0).to_ndarray(format="rgb24")
    assert np.abs(out[y0:y1, x0:x1].astype(int) - want).mean() < 6
