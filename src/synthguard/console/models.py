"""The console's table: operators who sign in to the web console (roles in auth.Role).

Only SQLAlchemy here, so that the store's model registry (store/all_models.py) can
import it without loading the web stack; the migration is
store/migrations/versions/0002_console.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from synthguard.store.models import Base
from synthguard.store.types import UTCDateTime


class OperatorRow(Base):
    __tablename__ = "console_operators"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # the sign-in name
    # "scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>": the parameters travel with the
    # hash, so raising the cost later leaves old hashes verifiable.
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))  # space-separated, sorted
    # Bumped by sign-out, a password change or disabling: every session cookie carries
    # the epoch it was issued in, so all of an operator's sessions end at once.
    session_epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
