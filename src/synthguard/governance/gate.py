"""What the gateway asks the governance services on its request path, in one place.

    gate = GovernanceGate(governance)
    refusal = gate.before_generation(user_id, model)   # switches (Art. 21), policies (Art. 8)
    refusal = gate.before_registration()               # the registrations switch
    verdict = gate.after_output(text, record_id=...)   # refuted rumors (Art. 11)
    filing = gate.model_filing(model)                  # Art. 19, for GET /v1/models

A refusal carries the HTTP status, a stable code and a message the client may see; the
gateway answers with it and records the request as refused. Switch lookups are cached
for a couple of seconds (switches.py); the policy check is one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthguard.governance.rumors import RumorVerdict
from synthguard.governance.service import Governance
from synthguard.governance.switches import Suspension, SwitchKind

ACCEPT_PATH = "/v1/governance/policies/{kind}/accept"


@dataclass(frozen=True)
class GateRefusal:
    status: int
    code: str  # service_suspended | model_suspended | registrations_suspended |
    #            policy_acceptance_required
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def _suspended(code: str, what: str, s: Suspension) -> GateRefusal:
    return GateRefusal(503, code, f"{what} is suspended by order {s.order_ref}",
                       {"switch": s.switch, "order_ref": s.order_ref,
                        "since": s.since.isoformat()})


class GovernanceGate:
    def __init__(self, governance: Governance) -> None:
        self._gov = governance

    def before_generation(self, user_id: str, model: str) -> GateRefusal | None:
        """Refuse while generation or this model is suspended, or while the user has a
        current policy version to accept."""
        suspension = self._gov.switches.blocking_generation(model)
        if suspension is not None:
            if suspension.switch == SwitchKind.GENERATION.value:
                return _suspended("service_suspended", "generation", suspension)
            return _suspended("model_suspended", f"model {model}", suspension)
        pending = self._gov.policies.must_accept(user_id)
        if pending:
            names = ", ".join(f"{p.title} (version {p.version})" for p in pending)
            return GateRefusal(403, "policy_acceptance_required",
                               f"accept the current {names} before generating",
                               {"must_accept": [{"kind": p.kind, "version": p.version,
                                                 "accept": ACCEPT_PATH.format(kind=p.kind)}
                                                for p in pending]})
        return None

    def before_generation_cached(self, user_id: str, model: str
                                 ) -> tuple[bool, GateRefusal | None]:
        """`before_generation` from the in-memory caches only, for the event loop:
        (True, refusal or None) when they answer, (False, None) when the database must
        be read (call `before_generation` from a thread then)."""
        known, suspension = self._gov.switches.blocking_generation_cached(model)
        if not known:
            return False, None
        if suspension is not None or not self._gov.policies.cleared_cached(user_id):
            return False, None  # a refusal is built (and its details read) the slow way
        return True, None

    def before_registration(self) -> GateRefusal | None:
        suspension = self._gov.switches.suspension(SwitchKind.REGISTRATIONS)
        if suspension is None:
            return None
        return _suspended("registrations_suspended", "registration of new accounts",
                          suspension)

    def after_output(self, text: str, *, record_id: str) -> RumorVerdict:
        """Match a model output against the refuted claims (the match is recorded with
        the record id). `notice`: append `verdict.notice` to the output; `block`:
        withhold it."""
        return self._gov.rumors.check(text, subject_kind="output", subject_ref=record_id)

    def model_filing(self, model: str) -> dict[str, Any] | None:
        """The filing fields to add to a model's entry in `GET /v1/models`."""
        filing = self._gov.registry.filing_for_model(model)
        if filing is None:
            return None
        return {"filing_number": filing.filing_number,
                "public_info_url": filing.public_info_url, "algorithm": filing.algorithm}
