"""The gateway's consent gate backed by the consent records.

The gateway builds its app with `create_app(config, consent=GatewayConsentChecker(svc))`;
its `ConsentGate` then calls `check(consent_id, kind=..., user_id=...)` for every request
flagged `synthguard.biometric_edit`, and refuses with `consent_required` and the reason
when the verdict is not granted.
"""

from __future__ import annotations

from synthguard.consent.service import ConsentService
from synthguard.gateway.consent import BiometricKind, ConsentVerdict


class GatewayConsentChecker:
    def __init__(self, service: ConsentService) -> None:
        self._service = service

    def check(self, consent_id: str | None, *, kind: BiometricKind, user_id: str,
              output: str | None = None) -> ConsentVerdict:
        """`output` (image, video, audio) also checks the consent's allowed outputs; the
        gateway passes it when it knows the endpoint's kind of output."""
        decision = self._service.check(consent_id, user_id, kind, output=output)
        return ConsentVerdict(decision.granted, decision.reason)
