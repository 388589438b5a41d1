"""`POST /v1/images/generations` and `POST /v1/audio/speech` after admission:
backend → labels (visible/audible notice, then, with watermark keys configured, the
robust watermark carrying the record id's content id, then the metadata label, signed
when a signing key is configured, then read-back) → record (which keeps the watermark
payload and signature state per file) → response. A file that cannot be labeled, or in
`watermark = "require"` mode cannot be watermarked, is withheld.

The built-in reviewer reads text, so image and audio outputs are recorded as not
reviewed, with the reason; the moderation engine that can read them plugs in later.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import anyio
from starlette.responses import JSONResponse, Response

from synthguard.accounts import canonical_digest
from synthguard.errors import SynthGuardError
from synthguard.gateway import errors
from synthguard.gateway.context import RequestContext, Withheld
from synthguard.gateway.labeling import LabeledFile, LabelingFailed
from synthguard.gateway.schemas import ImageGenerationRequest, SpeechRequest
from synthguard.gateway.service import GenerationService

AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
              "opus": "audio/ogg; codecs=opus"}
NOT_REVIEWED_IMAGE = {"reviewed": False, "reason": "no reviewer for image content is "
                      "configured; the prompt was reviewed"}
NOT_REVIEWED_AUDIO = {"reviewed": False, "reason": "no reviewer for audio content is "
                      "configured; the text to speak was reviewed"}


class MediaService(GenerationService):
    async def _label(self, fn: Any, *args: Any) -> LabeledFile:
        try:
            result: LabeledFile = await anyio.to_thread.run_sync(fn, *args)
        except (LabelingFailed, SynthGuardError, OSError) as exc:
            raise Withheld(errors.labeling_failed(), "error",
                           {"reviewed": False, "labeling": type(exc).__name__}) from exc
        return result

    async def images(self, ctx: RequestContext) -> Response:
        request = ctx.request
        assert isinstance(request, ImageGenerationRequest)
        backend, payload = self.route(ctx)
        images = await self.timed(ctx, lambda: backend.images(payload))
        label = self.labeler.aigc(ctx.record_id)
        labeled = [await self._label(self.labeler.image, data, label) for data in images]
        digests = [hashlib.sha256(f.data).hexdigest() for f in labeled]
        await self.recorder.write(
            ctx, "ok", output_digest=canonical_digest(digests), output_review=NOT_REVIEWED_IMAGE,
            labels=self.labeler.file_record(label, "image_notice", list(zip(labeled, digests,
                                                                            strict=True))))
        data = []
        for f in labeled:
            b64 = base64.b64encode(f.data).decode("ascii")
            item = ({"url": f"data:image/{f.carrier};base64,{b64}"}
                    if request.response_format == "url" else {"b64_json": b64})
            data.append({**item, "revised_prompt": None})
        body = {"created": int(time.time()), "data": data,
                "synthguard": self.labeler.extension(label)}
        return JSONResponse(body, headers=self.headers(ctx, label))

    async def speech(self, ctx: RequestContext) -> Response:
        request = ctx.request
        assert isinstance(request, SpeechRequest)
        fmt = request.response_format or "mp3"
        backend, payload = self.route(ctx)
        source_fmt = self.labeler.source_format(fmt)  # WAV when the mark precedes the encode
        audio = await self.timed(ctx, lambda: backend.speech(
            {**payload, "response_format": source_fmt}))
        label = self.labeler.aigc(ctx.record_id)
        labeled = await self._label(self.labeler.audio, audio, fmt, label, source_fmt)
        digest = hashlib.sha256(labeled.data).hexdigest()
        await self.recorder.write(
            ctx, "ok", output_digest=digest, output_review=NOT_REVIEWED_AUDIO,
            labels=self.labeler.file_record(label, "audio_rhythm_prompt", [(labeled, digest)]))
        return Response(labeled.data, media_type=AUDIO_MIME[fmt],
                        headers=self.headers(ctx, label))
