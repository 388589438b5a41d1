"""Tables of the identity service: the personal data vault, bindings of vault entries to
accounts, one-time codes, verification evidence, and the Art. 14 consent records with
their check log. Migration: `store/migrations/versions/0002_identity.py` (branch
"identity"); every change here needs a change there.

No column holds a plaintext identity number, phone number or real name: those live only
as `VaultEntry.ciphertext` (AES-GCM) plus a keyed `lookup_hash` and a masked display
form. `consent_checks` references consents by id without a foreign key: it is an audit
trail that must also record checks of ids that do not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from synthguard.store.models import Base
from synthguard.store.types import UTCDateTime, sequence_type

DATA_KINDS = ("id_number", "mobile", "real_name")
BINDING_ROLES = ("id_number", "mobile", "real_name")
OTP_PURPOSES = ("verify_mobile", "consent_confirm", "consent_revoke")
CONSENT_SCOPES = ("face", "voice", "both")
CONSENT_EVIDENCE = ("signed_statement", "phone_confirmation")
CONSENT_STATUSES = ("pending", "active", "revoked")


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class VaultEntry(Base):
    """One distinct personal value (an ID number, a phone number, a name), stored once."""

    __tablename__ = "vault_entries"
    __table_args__ = (UniqueConstraint("kind", "lookup_hash"),
                      CheckConstraint(one_of("kind", DATA_KINDS), name="kind"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    lookup_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hex
    key_id: Mapped[str] = mapped_column(String(16))  # the AES-GCM key that sealed it
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || ciphertext+tag
    masked: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdentityBinding(Base):
    """A verified account's own value of one role (its phone, ID number, real name)."""

    __tablename__ = "identity_bindings"
    __table_args__ = (CheckConstraint(one_of("role", BINDING_ROLES), name="role"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("vault_entries.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OtpChallenge(Base):
    """A one-time code sent to a phone. Only the code's keyed hash is kept."""

    __tablename__ = "otp_challenges"
    __table_args__ = (CheckConstraint(one_of("purpose", OTP_PURPOSES), name="purpose"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(24))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    subject_ref: Mapped[str | None] = mapped_column(String(32))  # e.g. the consent id
    entry_id: Mapped[str] = mapped_column(ForeignKey("vault_entries.id"), index=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VerificationEvidence(Base):
    """One real-name verification attempt: method, outcome, the provider's reference.
    `subject_hash` is a keyed hash of an opaque subject id (network identity), never
    identity data."""

    __tablename__ = "verification_evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    provider_reference: Mapped[str | None] = mapped_column(String(200))
    subject_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ConsentRecord(Base):
    """The separate consent of a person whose face or voice a user edits (Art. 14)."""

    __tablename__ = "consents"
    __table_args__ = (CheckConstraint(one_of("scope", CONSENT_SCOPES), name="scope"),
                      CheckConstraint(one_of("evidence", CONSENT_EVIDENCE), name="evidence"),
                      CheckConstraint(one_of("status", CONSENT_STATUSES), name="status"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    subject_name_entry: Mapped[str | None] = mapped_column(ForeignKey("vault_entries.id"),
                                                           index=True)
    subject_mobile_entry: Mapped[str | None] = mapped_column(ForeignKey("vault_entries.id"),
                                                             index=True)
    subject_display: Mapped[str] = mapped_column(String(64))  # masked
    scope: Mapped[str] = mapped_column(String(8))
    purpose: Mapped[str] = mapped_column(String(500))
    allowed_outputs: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[str] = mapped_column(String(24))
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revocation_reason: Mapped[str | None] = mapped_column(String(500))
    subject_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsentCheck(Base):
    """Every consent check the gateway (or anyone) made, granted or not."""

    __tablename__ = "consent_checks"

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    consent_id: Mapped[str | None] = mapped_column(String(100), index=True)
    user_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    output: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(String(40))
