"""Separate consent for editing a person's face or voice (deep-synthesis rules Art. 14).

`ConsentService` keeps the records and answers `check`; `GatewayConsentChecker`
(in `synthguard.consent.gateway`) adapts it to the gateway's consent gate.
"""

from synthguard.consent.service import ConsentDecision, ConsentInfo, ConsentService

__all__ = ["ConsentDecision", "ConsentInfo", "ConsentService"]
