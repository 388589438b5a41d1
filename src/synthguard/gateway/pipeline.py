"""The admission stages a generation request passes before any model sees it, in order:

API key (and its scope) → rate limit → account state (Art. 10 enforcement) → identity
gate (Art. 9: only real-name verified accounts generate) → request parsing and model
route → governance: service switches and policy acceptance (Art. 21, Art. 8), when the
app has the governance services → consent gate for face/voice edits (Art. 14) → input
review (Art. 10).

Each stage is a small class with one job; it reads what earlier stages put in the
`RequestContext`, adds its own findings and returns a `Decision`. `Pipeline.admit` runs
them in order and stops at the first refusal; the caller records a refused request
exactly like an allowed one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import Protocol

import anyio
from pydantic import ValidationError

from synthguard.accounts import Accounts, AccountState, KeyContext, RateLimiter, canonical_digest
from synthguard.gateway import errors
from synthguard.gateway.consent import ConsentChecker
from synthguard.gateway.context import ALLOW, Decision, RequestContext, refuse
from synthguard.gateway.governance import GovernanceChecks, GovernanceStage
from synthguard.gateway.review import ReviewContext, Reviewer, ReviewFailed
from synthguard.gateway.schemas import SpeechRequest
from synthguard.gateway.streaming import review_text

# Parameters that would make a model return output the gateway cannot review or label.
UNREVIEWABLE = ("tools", "functions", "logprobs", "top_logprobs", "audio", "modalities",
                "prediction")
UNLABELABLE_SPEECH = ("aac", "pcm")
# What a biometric edit produces, per endpoint, for consents limited to some outputs.
CONSENT_OUTPUT = {"images": "image", "audio": "audio"}


class Stage(Protocol):
    name: str

    async def __call__(self, ctx: RequestContext) -> Decision: ...


class KeyCache:
    """`authenticate` results for a few seconds, so a busy key costs no database read per
    request. Entries of a user whose state the gateway changes are dropped at once; a
    change made elsewhere (the admin CLI) is seen within `ttl_s`. Keys of accounts not
    yet real-name verified are not kept: they are refused anyway, and the account that
    has just verified through the identity API must be served on its next request."""

    def __init__(self, accounts: Accounts, ttl_s: float) -> None:
        self._accounts = accounts
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[KeyContext, float]] = {}
        self._lock = threading.Lock()

    async def authenticate(self, plaintext: str) -> KeyContext | None:
        slot = hashlib.sha256(plaintext.encode("utf-8", "replace")).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(slot)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await anyio.to_thread.run_sync(self._accounts.authenticate, plaintext)
        with self._lock:
            if found is None or not found.verified:
                self._entries.pop(slot, None)
            elif self._ttl_s > 0:
                if len(self._entries) > 100_000:
                    self._entries.clear()
                self._entries[slot] = (found, now + self._ttl_s)
        return found

    def forget_user(self, user_id: str) -> None:
        with self._lock:
            for slot in [s for s, (k, _) in self._entries.items() if k.user_id == user_id]:
                del self._entries[slot]


class ApiKeyStage:
    name = "api_key"

    def __init__(self, keys: KeyCache) -> None:
        self._keys = keys

    async def __call__(self, ctx: RequestContext) -> Decision:
        scheme, _, token = (ctx.authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return refuse(errors.invalid_api_key())
        key = await self._keys.authenticate(token.strip())
        if key is None:
            return refuse(errors.invalid_api_key())
        ctx.key = key
        if not key.allows(ctx.scope):
            return refuse(errors.insufficient_scope(ctx.scope))
        return ALLOW


class RateLimitStage:
    name = "rate_limit"

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None
        verdict = self._limiter.check(ctx.key.key_id, ctx.key.rate_limit_per_min)
        if not verdict.allowed:
            return refuse(errors.rate_limited(ctx.key.rate_limit_per_min,
                                              max(1, math.ceil(verdict.retry_after_s))))
        return ALLOW


class AccountStateStage:
    """Suspended and closed accounts generate nothing; a limited account keeps text chat
    but loses image and speech generation; a warned account is served and told so."""

    name = "account_state"

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None
        state = ctx.key.user_state
        if state in (AccountState.SUSPENDED, AccountState.CLOSED):
            return refuse(errors.account_refused(state.value))
        if state == AccountState.LIMITED and ctx.scope != "chat":
            return refuse(errors.function_limited(ctx.scope))
        if state != AccountState.ACTIVE:
            ctx.response_headers["X-SynthGuard-Account-State"] = state.value
        return ALLOW


class IdentityGate:
    name = "identity"

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None
        return ALLOW if ctx.key.verified else refuse(errors.identity_unverified())


class ParseStage:
    """The body against the endpoint's schema, and the model against the routes."""

    name = "parse"

    def __init__(self, models: Sequence[str]) -> None:
        self._models = frozenset(models)

    async def __call__(self, ctx: RequestContext) -> Decision:
        try:
            raw = json.loads(ctx.raw_body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return refuse(errors.invalid_request("The request body is not valid JSON."))
        if not isinstance(raw, dict):
            return refuse(errors.invalid_request("The request body must be a JSON object."))
        for name in UNREVIEWABLE:
            if raw.get(name):
                return refuse(errors.unsupported(
                    f"{name!r} is not supported: the gateway can only release output it "
                    "reviews and labels.", name))
        try:
            request = ctx.schema.model_validate(raw)
        except ValidationError as exc:
            return refuse(_validation_error(exc))
        ctx.request = request
        if request.model not in self._models:
            return refuse(errors.model_not_found(request.model, ctx.endpoint))
        ctx.model = request.model
        if isinstance(request, SpeechRequest) and request.response_format in UNLABELABLE_SPEECH:
            return refuse(errors.unsupported(
                f"response_format {request.response_format!r} has no container that can carry "
                "the implicit label (GB 45438 §6); use mp3, wav, flac or opus.",
                "response_format"))
        ctx.input_text = request.input_text()
        ctx.input_digest = canonical_digest(request.model_dump(mode="json", exclude_none=True))
        return ALLOW


def _validation_error(exc: ValidationError) -> errors.GatewayError:
    first = exc.errors(include_url=False, include_input=False)[0]
    param = ".".join(str(p) for p in first["loc"]) or None
    return errors.invalid_request(f"Invalid request: {param}: {first['msg']}", param)


class ConsentGate:
    name = "consent"

    def __init__(self, checker: ConsentChecker) -> None:
        self._checker = checker

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None and ctx.request is not None
        ext = ctx.request.synthguard
        if ext is None or ext.biometric_edit is None:
            return ALLOW
        verdict = await anyio.to_thread.run_sync(partial(
            self._checker.check, ext.consent_id, kind=ext.biometric_edit,
            user_id=ctx.key.user_id, output=CONSENT_OUTPUT.get(ctx.scope)))
        if not verdict.granted:
            return refuse(errors.consent_required(ext.biometric_edit, verdict.reason))
        return ALLOW


class InputReviewStage:
    """Reviews the input and counts the decision against the enforcement rule; a block
    that suspends the account drops the account's cached keys at once."""

    name = "input_review"

    def __init__(self, reviewer: Reviewer, accounts: Accounts, keys: KeyCache, *,
                 timeout_s: float) -> None:
        self._reviewer = reviewer
        self._accounts = accounts
        self._keys = keys
        self._timeout_s = timeout_s

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None
        context = ReviewContext(ctx.record_id, ctx.endpoint, ctx.key.user_id)
        try:
            result = await review_text(self._reviewer, ctx.input_text, stage="input",
                                       context=context, timeout_s=self._timeout_s)
        except ReviewFailed as exc:
            ctx.input_review = {"reviewer": self._reviewer.name, "decision": "failed",
                                "failure": str(exc)}
            return refuse(errors.review_unavailable(), "error")
        ctx.input_review = {"reviewer": self._reviewer.name,
                            "decision": "allowed" if result.allowed else "blocked",
                            **result.as_dict()}
        if result.allowed:
            # A passed input only resets the blocked streak and cannot change the state,
            # so the bookkeeping runs alongside generation; the record stage awaits it.
            ctx.enforcement_task = asyncio.ensure_future(self._note(ctx.key, False))
            return ALLOW
        ctx.enforcement = await self._note(ctx.key, True)
        param = "messages" if ctx.scope == "chat" else (
            "prompt" if ctx.scope == "images" else "input")
        return refuse(errors.content_blocked(param, result.category or "policy"),
                      "blocked_input")

    async def _note(self, key: KeyContext, blocked: bool) -> dict[str, object]:
        after = await anyio.to_thread.run_sync(self._accounts.note_input_decision,
                                               key.user_id, blocked)
        if after != key.user_state:
            self._keys.forget_user(key.user_id)
        return {"state_before": key.user_state.value, "state_after": after.value,
                "changed": after != key.user_state}


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    async def admit(self, ctx: RequestContext) -> Decision:
        for stage in self.stages:
            decision = await stage(ctx)
            if not decision.allowed:
                return decision
        return ALLOW


def admission_pipeline(*, accounts: Accounts, keys: KeyCache, limiter: RateLimiter,
                       models: Sequence[str], consent: ConsentChecker, reviewer: Reviewer,
                       review_timeout_s: float,
                       governance: GovernanceChecks | None = None) -> Pipeline:
    return Pipeline([
        ApiKeyStage(keys),
        RateLimitStage(limiter),
        AccountStateStage(),
        IdentityGate(),
        ParseStage(models),
        *([GovernanceStage(governance)] if governance is not None else []),
        ConsentGate(consent),
        InputReviewStage(reviewer, accounts, keys, timeout_s=review_timeout_s),
    ])


__all__ = ["AccountStateStage", "ApiKeyStage", "ConsentGate", "IdentityGate",
           "InputReviewStage", "KeyCache", "ParseStage", "Pipeline", "RateLimitStage",
           "Stage", "admission_pipeline"]
