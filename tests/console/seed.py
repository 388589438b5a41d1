"""Data the console tests put behind the pages: a queued review item, request records
in the audit log, evidence files made with Pillow."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

import synthguard
from synthguard.accounts import Records, RequestRecord, canonical_digest
from synthguard.governance.complaint_views import Submission
from synthguard.moderation.engine import Match, Review
from tests.console.conftest import Console

PRODUCER = "001191110102MACQD9K64010000"
REPORT = Submission(kind="report", category="missing_ai_label", target_kind="produce_id",
                    target="0190f3a2b4c5d6e7f8a9b0c1d2e3f4a5",
                    description="标识被删除了。", declared_true=True, contact="r@example.com")


def user(console: Console, name: str = "Li Lei") -> str:
    return console.accounts.create_user(console.accounts.create_org("Acme"), name)


def queued(console: Console, user_id: str, text: str = "这段话需要人工看一下。") -> int:
    """A text the engine sent to human review, as the gateway's reviewer queues it."""
    review = Review(decision="review", stage="input", release="test", release_sha256="0" * 64,
                    user_id=user_id,
                    matches=(Match("E-0001", "A.4.2", "keyword", "exact", (0, 2), "review"),))
    moderation = console.app.state.console.moderation
    return int(moderation.enqueue(review, text, record_id=secrets.token_hex(16)))


def logged_records(console: Console, count: int = 5, user_id: str | None = None) -> None:
    """`count` request records, ingested into the audit log and signed."""
    records = Records(console.db)
    for i in range(count):
        records.write(RequestRecord(
            id=records.new_id(), created_at=datetime.now(UTC), org_id=None, user_id=user_id,
            key_id=None, endpoint="/v1/chat/completions", model="synthguard-demo",
            status="blocked_input" if i == 0 else "ok",
            input_digest=canonical_digest(f"prompt {i}"), output_digest=None,
            input_review=None, output_review=None, labels=None, enforcement=None,
            error_code=None, overhead_ms=1.0))
    console.audit.catch_up(records)


def picture(tmp_path: Path, *, labelled: bool, name: str = "picture.png") -> Path:
    src = tmp_path / ("plain-" + name)
    Image.new("RGB", (64, 48), (30, 120, 200)).save(src)
    if not labelled:
        return src
    out = tmp_path / name
    synthguard.label(src, out, producer=PRODUCER, produce_id="img-0001")
    return out
