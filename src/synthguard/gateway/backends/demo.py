"""Offline demo generators, so the whole gateway runs with no model: a deterministic text
generator that streams word by word, a procedural image generator and a formant "voice".

The same prompt always gives the same output. A prompt containing `demo:spell:w-o-r-d`
makes the text generator write the word `word` in its second sentence: the input
reviewer sees only the spelled-out form, so this is how a demo or a test makes a model
produce a blocked word in the middle of a stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import soundfile  # type: ignore[import-untyped]
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from scipy import signal  # type: ignore[import-untyped]

from synthguard.gateway.backends.base import ChatDelta, ChatResult

SPELL = re.compile(r"demo:spell:((?:[^\s-]-)+[^\s-])")
DEFAULT_WORDS = 60
SPEECH_RATE = 24_000  # what the OpenAI speech endpoint returns
MAX_SPEECH_S = 120.0
_SOUNDFILE_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"),
                      "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}

_OPENERS = ("Here is a short answer", "This is a generated reply", "A simple view follows",
            "The demo model considered the question")
_SUBJECTS = ("the river", "a small robot", "the old library", "every morning train",
             "a careful gardener", "the quiet harbour", "a paper lantern", "the mountain road")
_VERBS = ("follows", "remembers", "carries", "measures", "paints", "listens to", "builds",
          "explains")
_OBJECTS = ("the shape of the clouds", "a list of small promises", "the colour of the sea",
            "an unfinished map", "the sound of rain", "a bright idea", "the long evening",
            "a patient question")
_CLOSERS = ("That is all the demo model knows.", "This text was produced offline.",
            "No real model was involved.")


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _prompt_text(payload: dict[str, Any]) -> str:
    """The last user message's text (string or text parts)."""
    for message in reversed(payload.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def demo_words(prompt: str, max_words: int = DEFAULT_WORDS) -> list[str]:
    """The reply as a list of deltas (words with their leading space and punctuation)."""
    rng = _rng("text", prompt)
    sentences = [f"{rng.choice(_OPENERS)}."]
    spelled = SPELL.search(prompt)
    for i in range(max(1, max_words // 8)):
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        if i == 0 and spelled:
            sentence += f" and says {spelled.group(1).replace('-', '')}"
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    sentences.append(rng.choice(_CLOSERS))
    words = " ".join(sentences).split(" ")
    if len(words) > max_words:
        words = words[:max_words]
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def demo_image(prompt: str, width: int, height: int, index: int = 0) -> bytes:
    """A procedural PNG: a two-colour gradient with translucent shapes."""
    rng = _rng("image", prompt, str(index))
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (np.array(top) * (1 - ramp) + np.array(bottom) * ramp).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).copy(), "RGB")
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randrange(8, 16)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(min(width, height) // 10, min(width, height) // 2 + 2)
        colour = (*(rng.randrange(256) for _ in range(3)), rng.randrange(80, 200))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + size, y0 + size // 2), fill=colour)
    img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


# Vowel formants (F1, F2, F3) in Hz, roughly an adult speaker's.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
           (660, 1720, 2410), (490, 1350, 1690), (640, 1190, 2390))


def _formant(x: NDArray[np.float64], freq: float) -> NDArray[np.float64]:
    """A two-pole resonator at `freq` (bandwidth 60 Hz + 5 %)."""
    r = np.exp(-np.pi * (60 + 0.05 * freq) / SPEECH_RATE)
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / SPEECH_RATE), r * r]
    return np.asarray(signal.lfilter([1.0 - r], a, x), dtype=np.float64)


def demo_speech_samples(text: str, voice: str, speed: float = 1.0) -> NDArray[np.float32]:
    """A synthetic voice: per word a glottal pulse train at the voice's pitch through the
    three formants of a vowel picked by the word, with a little breath noise. It sounds
    like a vowel-only speaker and has speech's spectrum up to a few kHz, where speech
    codecs (and the audio watermark) work."""
    rng = _rng("voice", voice)
    f0 = rng.uniform(110.0, 230.0)
    breath = np.random.default_rng(_rng("breath", voice, text).getrandbits(64))
    pieces: list[NDArray[np.float64]] = []
    total = 0.0
    for word in text.split():
        dur = min(0.6, 0.06 + 0.045 * len(word)) / speed
        pause = (0.32 if word[-1] in ".!?。！？" else 0.08) / speed
        if total + dur + pause > MAX_SPEECH_S:
            break
        t = np.arange(int(dur * SPEECH_RATE)) / SPEECH_RATE
        pitch = f0 * (1.0 + 0.08 * np.sin(2 * np.pi * t / max(dur, 1e-3)))
        pulses = np.diff(np.floor(np.cumsum(pitch) / SPEECH_RATE), prepend=0.0)
        excitation = pulses + 0.03 * breath.standard_normal(len(t))
        vowel = _VOWELS[sum(map(ord, word)) % len(_VOWELS)]
        voiced = sum(_formant(excitation, f) * g for f, g in zip(vowel, (1.0, 0.6, 0.3),
                                                                  strict=True))
        envelope = np.minimum(1.0, np.minimum(t / 0.015, (dur - t) / 0.03))
        syllable = voiced * envelope
        peak = float(np.max(np.abs(syllable))) if len(syllable) else 0.0
        pieces += [0.3 * syllable / (peak or 1.0), np.zeros(int(pause * SPEECH_RATE))]
        total += dur + pause
    if not pieces:
        pieces = [np.zeros(SPEECH_RATE // 2)]
    return np.concatenate(pieces).astype(np.float32)


def encode_speech(samples: NDArray[np.float32], fmt: str) -> bytes:
    container, subtype = _SOUNDFILE_FORMATS[fmt]
    out = io.BytesIO()
    soundfile.write(out, samples, SPEECH_RATE, format=container, subtype=subtype)
    return out.getvalue()


def parse_size(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


class DemoBackend:
    """All three generators; `delay_s` paces the stream like a real model would."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    async def chat(self, payload: dict[str, Any]) -> ChatResult:
        words = demo_words(_prompt_text(payload), _max_words(payload))
        text = "".join(words)
        return ChatResult(text, "stop", _usage(payload, len(words)))

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[ChatDelta]:
        words = demo_words(_prompt_text(payload), _max_words(payload))
        for word in words:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield ChatDelta(word)
        yield ChatDelta("", "stop")

    async def images(self, payload: dict[str, Any]) -> list[bytes]:
        width, height = parse_size(payload.get("size") or "512x512")
        prompt = str(payload.get("prompt", ""))
        return [await asyncio.to_thread(demo_image, prompt, width, height, i)
                for i in range(int(payload.get("n") or 1))]

    async def speech(self, payload: dict[str, Any]) -> bytes:
        samples = demo_speech_samples(str(payload.get("input", "")),
                                      str(payload.get("voice", "alloy")),
                                      float(payload.get("speed") or 1.0))
        return await asyncio.to_thread(encode_speech, samples,
                                       str(payload.get("response_format") or "mp3"))

    async def aclose(self) -> None:
        return None


def _max_words(payload: dict[str, Any]) -> int:
    limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
    return max(1, int(limit)) if limit else DEFAULT_WORDS


def _usage(payload: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = len(_prompt_text(payload).split())
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}
