"""Plug-ins to the outside world: SMS, ID number + name checks (operator three-element,
eKYC), the organisation registry, and the national network identity service.

Each is a small protocol; the HTTP adapters speak one vendor-neutral JSON shape, so a
vendor (Tencent `PhoneVerification`, Aliyun `ThreeElementsVerification`, a marketplace
API, the 网络身份认证 platform) is connected by a thin translating service or by another
class implementing the same protocol. Every request is a POST with
`Authorization: Bearer <credential>` and a JSON body; every answer is a JSON object:

| endpoint | request | answer |
| --- | --- | --- |
| SMS | `{"phone", "code", "purpose", "ttl_s", "details": {...}}` | any 2xx |
| person | `{"method", "name", "id_number", "mobile"}` | `{"result", "reference"}` |
| organisation | `{"uscc", "name", "legal_representative"}` | `{"result", "reference"}` |
| network identity | `{"ticket"}` | `{"result", "subject", "reference"}` |

`result` is `match`, `mismatch`, `no_record` or `unsupported`; `subject` is the opaque
network identity (网号-derived) id. Nothing else in an answer is read, so a service that
returns more (a name, a photo) never gets it into our storage. Errors never carry the
request: a failure is described by the service's status or the transport problem only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, get_args

import httpx

from synthguard.identity.errors import IdentityError, unavailable
from synthguard.identity.settings import VendorEndpoint
from synthguard.identity.vault import DataKind, mask

Outcome = Literal["match", "mismatch", "no_record", "unsupported"]
MAX_ANSWER_BYTES = 64 * 1024
MAX_REFERENCE = 200
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VendorResult:
    outcome: Outcome
    reference: str = ""  # the provider's transaction id, for the evidence record
    subject: str = field(default="", repr=False)  # opaque id (network identity only)


@dataclass(frozen=True)
class PersonClaim:
    name: str = field(repr=False)
    id_number: str = field(repr=False)
    mobile: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OrganisationClaim:
    uscc: str
    name: str
    legal_representative: str | None = field(default=None, repr=False)


class SmsSender(Protocol):
    def send_code(self, phone: str, code: str, *, purpose: str, ttl_s: int,
                  details: Mapping[str, str]) -> None: ...


class PersonVerifier(Protocol):
    method: str  # "operator_three_element" or "ekyc": recorded as the verification method
    needs_mobile: bool

    def verify_person(self, claim: PersonClaim) -> VendorResult: ...


class OrganisationVerifier(Protocol):
    def verify_organisation(self, claim: OrganisationClaim) -> VendorResult: ...


class NetworkIdentityVerifier(Protocol):
    def redeem(self, ticket: str) -> VendorResult: ...


class DevelopmentSmsSender:
    """Writes the code to the server log instead of sending it: demo installs only.
    The phone number is logged masked."""

    def __init__(self, demo: bool) -> None:
        if not demo:
            raise IdentityError("the development SMS sender only runs in demo mode; "
                                "configure SYNTHGUARD_SMS_URL", "sms_not_configured", 503)

    def send_code(self, phone: str, code: str, *, purpose: str, ttl_s: int,
                  details: Mapping[str, str]) -> None:
        log.warning("demo SMS (not sent): code %s for %s", code, mask(DataKind.MOBILE, phone),
                    extra={"event": "demo_sms", "purpose": purpose})


class _VendorClient:
    """One vendor endpoint: a pooled HTTPS client with the credential and a timeout."""

    def __init__(self, endpoint: VendorEndpoint, what: str) -> None:
        self.endpoint = endpoint
        self.what = what
        self._client = httpx.Client(timeout=endpoint.timeout_s, follow_redirects=False,
                                    headers={"Authorization": f"Bearer {endpoint.credential}"})

    def close(self) -> None:
        self._client.close()

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(self.endpoint.url, json=payload)
        except httpx.TimeoutException:
            raise unavailable("provider_timeout", f"the {self.what} did not answer in time") \
                from None
        except httpx.HTTPError as exc:
            raise unavailable("provider_unreachable", f"the {self.what} cannot be reached "
                              f"({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            log.error("vendor refused our credential", extra={
                "event": "vendor_auth", "vendor": self.what, "status": response.status_code})
            raise unavailable("provider_unavailable", f"the {self.what} refused the "
                              "service's credential")
        if not response.is_success:
            raise unavailable("provider_unavailable", f"the {self.what} answered HTTP "
                              f"{response.status_code}")
        if len(response.content) > MAX_ANSWER_BYTES:
            raise unavailable("provider_bad_answer", f"the {self.what} answer is too large")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise unavailable("provider_bad_answer", f"the {self.what} answer is not a JSON "
                              "object")
        return answer

    def result(self, payload: dict[str, Any], *, with_subject: bool = False) -> VendorResult:
        answer = self.post(payload)
        outcome, reference = answer.get("result"), answer.get("reference", "")
        if outcome not in get_args(Outcome):
            raise unavailable("provider_bad_answer", f"the {self.what} answered an unknown "
                              "result")
        if not isinstance(reference, str) or len(reference) > MAX_REFERENCE \
                or not reference.isprintable():
            raise unavailable("provider_bad_answer", f"the {self.what} reference is not a "
                              "short printable string")
        subject = ""
        if with_subject and outcome == "match":
            subject = answer.get("subject", "")
            if not isinstance(subject, str) or not 0 < len(subject) <= MAX_REFERENCE:
                raise unavailable("provider_bad_answer", f"the {self.what} gave no usable "
                                  "subject id")
        return VendorResult(cast(Outcome, outcome), reference, subject)


class _HttpAdapter:
    _vendor: _VendorClient

    def close(self) -> None:
        self._vendor.close()


class HttpSmsSender(_HttpAdapter):
    def __init__(self, endpoint: VendorEndpoint) -> None:
        self._vendor = _VendorClient(endpoint, "SMS gateway")

    def send_code(self, phone: str, code: str, *, purpose: str, ttl_s: int,
                  details: Mapping[str, str]) -> None:
        self._vendor.post({"phone": phone, "code": code, "purpose": purpose, "ttl_s": ttl_s,
                           "details": dict(details)})


class HttpPersonVerifier(_HttpAdapter):
    def __init__(self, endpoint: VendorEndpoint,
                 method: str = "operator_three_element") -> None:
        self.method = method
        # An operator check compares name, ID number and the phone's registered owner.
        self.needs_mobile = method == "operator_three_element"
        self._vendor = _VendorClient(endpoint, "identity verifier")

    def verify_person(self, claim: PersonClaim) -> VendorResult:
        return self._vendor.result({"method": self.method, "name": claim.name,
                                    "id_number": claim.id_number, "mobile": claim.mobile})


class HttpOrganisationVerifier(_HttpAdapter):
    def __init__(self, endpoint: VendorEndpoint) -> None:
        self._vendor = _VendorClient(endpoint, "organisation registry")

    def verify_organisation(self, claim: OrganisationClaim) -> VendorResult:
        return self._vendor.result({"uscc": claim.uscc, "name": claim.name,
                                    "legal_representative": claim.legal_representative})


class HttpNetworkIdentityVerifier(_HttpAdapter):
    def __init__(self, endpoint: VendorEndpoint) -> None:
        self._vendor = _VendorClient(endpoint, "network identity service")

    def redeem(self, ticket: str) -> VendorResult:
        return self._vendor.result({"ticket": ticket}, with_subject=True)
