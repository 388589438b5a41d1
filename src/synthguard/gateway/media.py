"""`POST /v1/images/generations` and `POST /v1/audio/speech` after admission:
backend → labels (visible/audible notice, then, with watermark keys configured, the
robust watermark carrying the record id's content id, then the metadata label, signed
when a signing key is configured, then read-back) → record (which keeps the watermark
payload and signature state per file) → response. A file that cannot be labeled, or in
`watermark = "require"` mode cannot be watermarked, is withheld.

Generated images are reviewed before they are labeled when the reviewer reads images
(the moderation engine with image-hash entries in its release: perceptual hashes with
dihedral variants), in a worker thread under the review deadline, fail closed: a block
withholds every image of the request, a review that cannot run withholds them too. With
no such reviewer, and for audio (no reviewer reads audio), the record says the output
was not reviewed and why; the prompt or text to speak was reviewed either way.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import anyio
from starlette.responses import JSONResponse, Response

from synthguard.accounts import canonical_digest
from synthguard.errors import SynthGuardError
from synthguard.gateway import errors
from synthguard.gateway.context import RequestContext, Withheld
from synthguard.gateway.labeling import LabeledFile, LabelingFailed
from synthguard.gateway.review import ReviewContext, Reviewer, ReviewResult, reads_images
from synthguard.gateway.schemas import ImageGenerationRequest, SpeechRequest
from synthguard.gateway.service import GenerationService

AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
              "opus": "audio/ogg; codecs=opus"}
NOT_REVIEWED_IMAGE = {"reviewed": False, "reason": "no reviewer for image content is "
                      "configured; the prompt was reviewed"}
NOT_REVIEWED_AUDIO = {"reviewed": False, "reason": "no reviewer for audio content is "
                      "configured; the text to speak was reviewed"}


@dataclass
class MediaService(GenerationService):
    reviewer: Reviewer | None = None
    review_timeout_s: float = 5.0

    async def _review_images(self, ctx: RequestContext, images: list[bytes]
                             ) -> dict[str, Any]:
        """The output review of generated images, for the record; raises `Withheld`
        when one is blocked or the review cannot run."""
        reviewer = self.reviewer
        if reviewer is None or not reads_images(reviewer):
            return NOT_REVIEWED_IMAGE
        context = ReviewContext(ctx.record_id, ctx.endpoint, ctx.key.user_id if ctx.key else None)
        review_image = cast(Any, reviewer).review_image
        flagged: list[str] = []
        for index, data in enumerate(images):
            try:
                with anyio.fail_after(self.review_timeout_s):
                    result: ReviewResult = await anyio.to_thread.run_sync(
                        partial(review_image, data, stage="output", context=context),
                        abandon_on_cancel=True)
            except Exception as exc:
                raise Withheld(errors.review_unavailable(), "error", {
                    "reviewed": False, "reviewer": reviewer.name, "decision": "failed",
                    "failure": type(exc).__name__}) from None
            review = {"reviewed": True, "reviewer": reviewer.name, "images": len(images),
                      **result.as_dict()}
            if not result.allowed:
                raise Withheld(errors.output_blocked(result.category or "policy"),
                               "blocked_output", {**review, "decision": "blocked",
                                                  "image": index})
            flagged += [i for i in result.rule_ids if i not in flagged]
        return {"reviewed": True, "reviewer": reviewer.name, "images": len(images),
                "decision": "allowed", "allowed": True, "rule_ids": flagged}

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
        review = await self._review_images(ctx, images)
        label = self.labeler.aigc(ctx.record_id)
        labeled = [await self._label(self.labeler.image, data, label) for data in images]
        digests = [hashlib.sha256(f.data).hexdigest() for f in labeled]
        await self.recorder.write(
            ctx, "ok", output_digest=canonical_digest(digests), output_review=review,
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
