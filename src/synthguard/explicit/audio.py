"""Audible notices on audio (GB 45438 §5.3): a rhythm prompt 短长短短, a spoken notice, or
both, at the start, the end, or both ends.

The prompt is concatenated with the content, separated by a short silence, rather than
mixed into it: mixing would mask the content under the prompt (and the prompt under the
content), and it would force rescaling wherever the sum clips. Concatenation leaves every
content sample as it was, so lossless files keep their content bit for bit, and the prompt
is heard alone at a fixed level below full scale; the user's audio is never normalised.

The output keeps the input's format, codec, sample rate and channels (`audio_io`). The
implicit metadata label is written afterwards; with `label=None` a compliant label already
in the input is kept, since re-encoding would otherwise lose it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
from numpy.typing import NDArray

from synthguard._atomic import atomic_output
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.audio_io import (
    AudioInput,
    Spliced,
    carrier_format,
    splice,
    verify_output,
)
from synthguard.explicit.wording import NoticeError
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.api import Report, inspect, publish
from synthguard.labels.protect import Protection
from synthguard.watermark.audio_file import WatermarkingInput, splice_marked
from synthguard.watermark.payload import content_id_from

Prompt = Literal["rhythm", "voice", "both"]
Position = Literal["start", "end", "both"]
PROMPTS: tuple[Prompt, ...] = ("rhythm", "voice", "both")
POSITIONS: tuple[Position, ...] = ("start", "end", "both")

MORSE_AI = ".- .."  # GB 45438 §5.3 c) 注1: 短长短短 is "AI" in Morse code
GAP_S = 0.3  # silence between a prompt and the content, and between rhythm and voice
# Silence before a prompt at the very start: lossy encoders have no history for their first
# frame, and the AAC encoder overshoots a tone that starts there by up to 5 dB.
LEAD_IN_S = 0.05
VOICE_CLIP = Path(__file__).parent / "voice" / "notice_zh.opus"
VOICE_NOTICE = "本内容由人工智能生成"  # what the shipped clip says (wording.DEFAULT_ZH)
VOICE_PEAK_DBFS = -6.0  # speech peaks ~14 dB above its RMS: about as loud as the rhythm
MAX_VOICE_S = 30.0


@dataclass(frozen=True)
class Rhythm:
    """The 短长短短 rhythm prompt: "AI" in Morse code (A = ·−, I = ··), as tone bursts.

    Timing follows ITU-R M.1677-1 §2: a dash is three dots, the space between the elements
    of a letter is one dot, the space between letters three dots. The whole prompt is then
    dot, gap, dash, letter gap, dot, gap, dot = 11 units; at the default 0.1 s unit (the
    PARIS standard's 12 words per minute, easy to follow for an untrained ear) it lasts
    1.1 s. GB 45438 gives no durations; these are the Morse code the standard cites.

    The tone is a 1 kHz sine, the reference tone of audio practice: it lies where hearing
    is sensitive, and it survives telephone bandwidth, 8 kHz sampling and lossy codecs.
    Its peak is −18 dBFS, the EBU R 68 alignment level: clearly audible next to programme
    material yet far from full scale, so it neither startles nor clips after lossy coding.
    Each burst is gated with raised-cosine ramps of 5 ms centred on its nominal edges: an
    abrupt gate would click (a broadband splatter), and centring the ramps keeps every
    element at its nominal length measured at half amplitude.
    """

    frequency_hz: float = 1000.0
    unit_s: float = 0.1
    level_dbfs: float = -18.0
    ramp_s: float = 0.005

    def __post_init__(self) -> None:
        if not 200.0 <= self.frequency_hz <= 4000.0:
            raise NoticeError(f"rhythm frequency {self.frequency_hz} Hz is outside 200–4000 Hz")
        if not 0.04 <= self.unit_s <= 0.25:
            raise NoticeError(f"rhythm unit {self.unit_s} s is outside 0.04–0.25 s "
                              "(30 to 5 words per minute)")
        if not -40.0 <= self.level_dbfs <= -3.0:
            raise NoticeError(f"rhythm level {self.level_dbfs} dBFS is outside −40 to −3 dBFS")
        if not 0.001 <= self.ramp_s <= self.unit_s / 2:
            raise NoticeError(f"rhythm ramp {self.ramp_s} s is outside 1 ms to half a unit")

    @property
    def elements(self) -> tuple[tuple[bool, int], ...]:
        """(tone on?, length in units) for each element and space of MORSE_AI."""
        out: list[tuple[bool, int]] = []
        for letter in MORSE_AI.split():
            if out:
                out.append((False, 3))
            for i, symbol in enumerate(letter):
                if i:
                    out.append((False, 1))
                out.append((True, 1 if symbol == "." else 3))
        return tuple(out)

    @property
    def duration_s(self) -> float:
        """Length of the rendered prompt: the elements plus half a ramp at either end."""
        return sum(n for _, n in self.elements) * self.unit_s + self.ramp_s

    def render(self, rate: int) -> NDArray[np.float64]:
        """The prompt as mono samples at `rate`, peak at `level_dbfs`."""
        if self.frequency_hz >= 0.45 * rate:
            raise NoticeError(f"rhythm frequency {self.frequency_hz} Hz is too high for "
                              f"{rate} Hz audio")
        t = np.arange(round(self.duration_s * rate)) / rate
        envelope = np.zeros_like(t)
        edge = self.ramp_s / 2
        start = edge
        for on, units in self.elements:
            end = start + units * self.unit_s
            if on:
                rise = np.clip((t - (start - edge)) / self.ramp_s, 0.0, 1.0)
                fall = np.clip(((end + edge) - t) / self.ramp_s, 0.0, 1.0)
                envelope += 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))
            start = end
        amplitude = 10 ** (self.level_dbfs / 20)
        return amplitude * envelope * np.sin(2 * np.pi * self.frequency_hz * t)


@dataclass(frozen=True)
class AudioMarkResult:
    path: str
    format: str  # the label carrier's name: wav, flac, mp3, ogg, mp4
    codec: str  # the encoder used
    sample_rate: int
    channels: int
    prompt_spans: tuple[tuple[float, float], ...]  # where prompts sound in the output, s
    content_start_s: float  # where the original content begins in the output
    content_s: float
    labeled: bool
    report: Report | None = None  # the labeled output, read back (watermark, signature ...)


def _mono(frame: av.AudioFrame) -> NDArray[np.float64]:
    return np.asarray(frame.to_ndarray(), dtype=np.float64).reshape(-1)


def _load_voice(clip: Path, rate: int) -> NDArray[np.float64]:
    """The clip as mono float at `rate` (swresample's windowed-sinc filter), peak at
    VOICE_PEAK_DBFS."""
    if not clip.is_file():
        raise NoticeError(f"{clip}: voice notice clip not found")
    resampler = av.AudioResampler(format="dbl", layout="mono", rate=rate)
    parts: list[NDArray[np.float64]] = []
    try:
        with av.open(str(clip)) as container:
            if not container.streams.audio:
                raise MalformedFile(f"{clip}: voice notice clip has no audio stream")
            length = 0
            for frame in itertools.chain(container.decode(audio=0), [None]):
                for resampled in resampler.resample(frame):
                    parts.append(_mono(resampled))
                    length += len(parts[-1])
                if length > MAX_VOICE_S * rate:
                    raise NoticeError(f"{clip}: voice notice clip is longer than "
                                      f"{MAX_VOICE_S:g} s")
    except av.FFmpegError as exc:
        raise MalformedFile(f"{clip}: voice notice clip is not readable audio: {exc}") from None
    voice = np.concatenate(parts) if parts else np.zeros(0)
    peak = float(np.abs(voice).max()) if voice.size else 0.0
    if peak < 1e-4:
        raise NoticeError(f"{clip}: voice notice clip is silent")
    return voice * (10 ** (VOICE_PEAK_DBFS / 20) / peak)


def prompt_signal(prompt: Prompt, rate: int, rhythm: Rhythm = Rhythm(),
                  voice_clip: Path = VOICE_CLIP) -> NDArray[np.float64]:
    """The whole prompt (rhythm, then the spoken notice, for "both") as mono samples."""
    parts: list[NDArray[np.float64]] = []
    if prompt in ("rhythm", "both"):
        parts.append(rhythm.render(rate))
    if prompt in ("voice", "both"):
        if parts:
            parts.append(np.zeros(round(GAP_S * rate)))
        parts.append(_load_voice(voice_clip, rate))
    return np.concatenate(parts)


def _embed(inp: WatermarkingInput, src: Path, dst: Path, label: AIGCLabel,
           protection: Protection, notes: list[Finding], head: NDArray[np.float64],
           tail: NDArray[np.float64]) -> tuple[Path, Spliced] | None:
    """Mark the content and the notice around it in memory and encode them, so prompt and
    mark share one encode (a file step after it would re-encode lossy audio a second
    time), read back and placed again if the encoder took the payload (`splice_marked`);
    returns the temporary file and its layout. None, with a note, when the audio cannot
    carry the mark (and the mode is not `require`)."""
    keys = protection.watermark_keys
    assert keys is not None
    try:
        tmp, spliced, _ = splice_marked(inp, dst, src, content_id_from(label.produce_id),
                                        keys.primary, strength=protection.strength,
                                        head=head, tail=tail)
    except UnsupportedFormat as exc:
        reason = str(exc).removeprefix(f"{src}: ")
        if protection.watermark == "require":
            raise UnsupportedFormat(f"{src}: cannot be watermarked: {reason}") from None
        notes.append(Finding("watermark-skipped", "warning", f"not watermarked: {reason}"))
        return None
    return tmp, spliced


def mark_audio(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    prompt: Prompt = "rhythm",
    position: Position = "start",
    rhythm: Rhythm = Rhythm(),
    voice_clip: str | os.PathLike[str] | None = None,
    label: AIGCLabel | None = None,
    protection: Protection | None = None,
) -> AudioMarkResult:
    """Add the audible notice to `src` and write to `dst` (in place if None), in the same
    format, codec, sample rate and channels; then write the implicit `label` (or keep the
    input's compliant label when `label` is None), with what `protection` adds to it
    (watermark, signature, C2PA; `labels.protect`). On any error no output is left."""
    if prompt not in PROMPTS:
        raise NoticeError(f"prompt {prompt!r} is not one of {', '.join(PROMPTS)}")
    if position not in POSITIONS:
        raise NoticeError(f"position {position!r} is not one of {', '.join(POSITIONS)}")
    s = Path(src)
    d = s if dst is None else Path(dst)
    if d.is_dir():
        raise UnsupportedFormat(f"{d}: output path is a directory")
    clip = VOICE_CLIP if voice_clip is None else Path(voice_clip)
    if prompt != "rhythm" and not clip.is_file():
        raise NoticeError(f"{clip}: voice notice clip not found")
    fmt = carrier_format(s)
    if label is None:
        label = inspect(s, integrity=False).label
    marking = protection is not None and protection.marks and label is not None
    notes: list[Finding] = []
    with (WatermarkingInput if marking else AudioInput)(s, fmt) as inp:
        rate = inp.shape.rate
        block = prompt_signal(prompt, rate, rhythm, clip)
        gap = np.zeros(round(GAP_S * rate))
        at_start, at_end = position in ("start", "both"), position in ("end", "both")
        head = np.concatenate([np.zeros(round(LEAD_IN_S * rate)), block, gap]) if at_start \
            else np.zeros(0)
        tail = np.concatenate([gap, block]) if at_end else np.zeros(0)
        written = None
        if isinstance(inp, WatermarkingInput) and protection is not None and label is not None:
            written = _embed(inp, s, d, label, protection, notes, head, tail)
        if written is None:
            with atomic_output(d, mode_from=s) as (out, tmp):
                spliced = splice(inp, out, head, tail)
        else:
            tmp, spliced = written
    report = publish(tmp, d, label, check=lambda: verify_output(tmp, d, inp.shape),
                     protection=protection, source=s, premarked=marking, notes=notes)
    spans = []
    if at_start:
        spans.append((len(head) - len(gap) - len(block), len(head) - len(gap)))
    if at_end:
        end = spliced.content_start + spliced.content + len(tail)
        spans.append((end - len(block), end))
    return AudioMarkResult(str(d), fmt, inp.encoder, rate, inp.shape.channels,
                           tuple((a / rate, b / rate) for a, b in spans),
                           spliced.content_start / rate, spliced.content / rate,
                           label is not None, report)
