"""The governance services on the gateway's request path (issue 10), off the event loop.

- Admission: `GovernanceStage` asks `GovernanceGate.before_generation` after the model
  route is known: a general or per-model suspension (Art. 21) is a 503, a policy version
  the user has yet to accept (Art. 8) a 403; the request is recorded as refused.
- Output (Art. 11): a whole answer is matched against the refuted claims once, with
  `after_output` (the match is recorded with the record id): `notice` appends the
  refutation to the text before the AI notice is added, `block` withholds the answer.
- Streams: text is released in reviewed windows (streaming.py), so a refuted claim must
  be caught before its window goes out. Each window is previewed together with the
  window released before it (a claim is usually one sentence, and windows end at
  sentence ends) without recording; a `block` verdict stops the stream before that
  window. At the end, the whole released text goes through `after_output` once, which
  records the matches, and a `notice` is sent as the last content chunk before the AI
  notice's suffix.
- `GET /v1/models` carries each route's filing (Art. 19), and the identity sign-up is
  refused while registrations are suspended.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from synthguard.gateway import errors
from synthguard.gateway.context import ALLOW, Decision, RequestContext, refuse

if TYPE_CHECKING:
    from synthguard.governance.gate import GateRefusal, GovernanceGate
    from synthguard.governance.rumors import RumorVerdict
    from synthguard.governance.service import Governance


def gate_error(refusal: GateRefusal) -> errors.GatewayError:
    """A governance refusal as an OpenAI-style error (503 → server_error, else a
    permission error), with the gate's stable code."""
    kind = "server_error" if refusal.status >= 500 else "permission_error"
    return errors.GatewayError(refusal.status, refusal.message, kind, refusal.code)


def rumor_summary(verdict: RumorVerdict) -> dict[str, Any]:
    """What the request record keeps of a rumor match: ids and scores, never the text."""
    return {"action": verdict.action,
            "claims": [{"claim_id": h.claim_id, "score": h.score, "action": h.action}
                       for h in verdict.hits]}


class GovernanceChecks:
    def __init__(self, governance: Governance) -> None:
        # Imported here: the governance package imports the moderation engine, whose
        # gateway adapter imports this package.
        from synthguard.governance.gate import GovernanceGate
        from synthguard.governance.rumors import RumorVerdict

        self.governance = governance
        self.gate: GovernanceGate = GovernanceGate(governance)
        self._pass = RumorVerdict("pass", ())

    async def before_generation(self, user_id: str, model: str) -> errors.GatewayError | None:
        known, refusal = self.gate.before_generation_cached(user_id, model)
        if not known:  # the caches cannot tell: ask the database, off the event loop
            refusal = await anyio.to_thread.run_sync(self.gate.before_generation, user_id,
                                                     model)
        return gate_error(refusal) if refusal is not None else None

    async def before_registration(self) -> GateRefusal | None:
        return await anyio.to_thread.run_sync(self.gate.before_registration)

    async def after_output(self, text: str, record_id: str) -> RumorVerdict:
        if self.governance.rumors.empty_cached():  # nothing to match: no thread needed
            return self._pass
        return await anyio.to_thread.run_sync(
            partial(self.gate.after_output, text, record_id=record_id))

    async def preview(self, text: str) -> RumorVerdict:
        """The verdict on a stream window, not recorded (the end of the stream is)."""
        if self.governance.rumors.empty_cached():
            return self._pass
        return await anyio.to_thread.run_sync(
            partial(self.governance.rumors.check, text, subject_kind="output", record=False))

    async def filings(self, models: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        def lookup() -> dict[str, dict[str, Any] | None]:
            return {model: self.gate.model_filing(model) for model in models}
        return await anyio.to_thread.run_sync(lookup)


class GovernanceStage:
    """Service switches and policy acceptance, once the model route is known."""

    name = "governance"

    def __init__(self, checks: GovernanceChecks) -> None:
        self._checks = checks

    async def __call__(self, ctx: RequestContext) -> Decision:
        assert ctx.key is not None and ctx.model is not None
        error = await self._checks.before_generation(ctx.key.user_id, ctx.model)
        return refuse(error) if error is not None else ALLOW
