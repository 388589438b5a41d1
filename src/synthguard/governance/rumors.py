"""Rumor refutation (Provisions Art. 11): a library of refuted claims, matching of model
outputs and public reports against it, the record of every match, and the listing the
regulator receives.

Matching is the moderation engine's near-duplicate search (`moderation.samples`): each
active claim is a MinHash sample of character bigrams in the loose view, so a claim
still matches when reworded, reordered, written in traditional characters or padded
with symbols. A hit at or above the threshold is recorded (claim, score, the digest of
the text, never the text) and acted on by policy: `notice` attaches the refutation to
the output, `block` withholds it. A claim may override the configured default.

The built index is cached; changes made through this object rebuild it at once, and
changes made by another process are picked up within `refresh_s`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, select

from synthguard.governance import errors
from synthguard.governance.models import RumorClaimRow, RumorMatchRow
from synthguard.governance.settings import RumorAction, RumorSettings
from synthguard.moderation.normalize import loose_view
from synthguard.store import Database

if TYPE_CHECKING:
    from synthguard.moderation.samples import SampleIndex

SubjectKind = Literal["output", "report", "text"]
MAX_CLAIM = 2000
MAX_REFUTATION = 5000
MIN_CLAIM_CHARS = 6  # fewer loose-view characters give too few bigrams to match on
_ORDER = {"pass": 0, "notice": 1, "block": 2}


@dataclass(frozen=True)
class RefutedClaim:
    id: str
    claim: str
    refutation: str
    sources: tuple[str, ...]
    claim_seen_on: date | None
    refuted_on: date
    action: RumorAction | None  # None: the configured default
    created_by: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class RumorHit:
    claim_id: str
    score: float
    span: tuple[int, int]  # in the checked text
    action: RumorAction
    refutation: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class RumorVerdict:
    action: Literal["pass", "notice", "block"]
    hits: tuple[RumorHit, ...]

    @property
    def notice(self) -> str | None:
        """The refutation notice to attach to the output (the best-scoring claims first)."""
        if not self.hits:
            return None
        parts = []
        for hit in sorted(self.hits, key=lambda h: -h.score):
            source = f"（来源：{hit.sources[0]}）" if hit.sources else ""
            parts.append(f"【辟谣】{hit.refutation}{source}")
        return "\n".join(parts)


@dataclass(frozen=True)
class RumorMatch:
    claim_id: str
    at: datetime
    subject_kind: str
    subject_ref: str | None
    score: float
    action: str
    text_sha256: str


@dataclass
class _Index:
    key: tuple[int, datetime | None, datetime | None]
    claims: list[RefutedClaim]
    samples: SampleIndex | None
    built: float


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RumorLibrary:
    def __init__(self, db: Database, settings: RumorSettings | None = None, *,
                 clock: Callable[[], datetime] = _utcnow, refresh_s: float = 30.0) -> None:
        self._db = db
        self.settings = settings or RumorSettings()
        self._clock = clock
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._index: _Index | None = None

    # -- the library -------------------------------------------------------------------

    def add(self, claim: str, refutation: str, *, sources: Sequence[str], refuted_on: date,
            actor: str, claim_seen_on: date | None = None,
            action: RumorAction | None = None) -> RefutedClaim:
        claim, refutation = claim.strip(), refutation.strip()
        if len(loose_view(claim).text) < MIN_CLAIM_CHARS or len(claim) > MAX_CLAIM:
            raise errors.invalid(f"a claim needs {MIN_CLAIM_CHARS}..{MAX_CLAIM} characters "
                                 "of text", "invalid_claim")
        if not refutation or len(refutation) > MAX_REFUTATION:
            raise errors.invalid(f"a refutation needs 1..{MAX_REFUTATION} characters",
                                 "invalid_refutation")
        cleaned = tuple(s.strip() for s in sources if s.strip())
        if not cleaned or any(len(s) > 500 for s in cleaned):
            raise errors.invalid("a refutation needs at least one source (at most 500 "
                                 "characters each)", "invalid_sources")
        if action is not None and action not in ("notice", "block"):
            raise errors.invalid("action must be notice or block", "invalid_action")
        if claim_seen_on is not None and claim_seen_on > refuted_on:
            raise errors.invalid("a claim cannot be refuted before it was seen",
                                 "invalid_dates")
        row = RumorClaimRow(id="rmr_" + secrets.token_hex(12), claim=claim,
                            refutation=refutation, sources=list(cleaned),
                            claim_seen_on=claim_seen_on, refuted_on=refuted_on, action=action,
                            created_by=_actor(actor), created_at=self._clock())
        with self._db.session() as s:
            s.add(row)
        self._index = None
        return _claim(row)

    def retire(self, claim_id: str, *, actor: str) -> RefutedClaim:
        with self._db.session() as s:
            row = s.get(RumorClaimRow, claim_id, with_for_update=True)
            if row is None:
                raise errors.not_found(f"no refuted claim {claim_id!r}")
            if row.retired_at is None:
                row.retired_at, row.retired_by = self._clock(), _actor(actor)
            claim = _claim(row)
        self._index = None
        return claim

    def claims(self, *, include_retired: bool = False) -> list[RefutedClaim]:
        query = select(RumorClaimRow).order_by(RumorClaimRow.created_at, RumorClaimRow.id)
        if not include_retired:
            query = query.where(RumorClaimRow.retired_at.is_(None))
        with self._db.session(readonly=True) as s:
            return [_claim(r) for r in s.scalars(query)]

    # -- matching ----------------------------------------------------------------------

    def check(self, text: str, *, subject_kind: SubjectKind = "text",
              subject_ref: str | None = None, record: bool = True) -> RumorVerdict:
        """Match `text` against the active claims; record the hits (unless `record` is
        off, for previews) and return the strongest action."""
        index = self._current()
        if index.samples is None or not text:
            return RumorVerdict("pass", ())
        view = loose_view(text)
        hits = []
        for found in index.samples.find(view):
            claim = index.claims[found.entry]
            start, end = view.original_span(found.start, max(found.start + 1, found.end))
            hits.append(RumorHit(claim.id, round(found.score, 3), (start, end),
                                 claim.action or self.settings.action, claim.refutation,
                                 claim.sources))
        if not hits:
            return RumorVerdict("pass", ())
        if record:
            digest, now = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), \
                self._clock()
            with self._db.session() as s:
                s.add_all(RumorMatchRow(claim_id=h.claim_id, at=now, subject_kind=subject_kind,
                                        subject_ref=subject_ref, score=h.score, action=h.action,
                                        text_sha256=digest) for h in hits)
        action = max((h.action for h in hits), key=_ORDER.__getitem__)
        return RumorVerdict(action, tuple(hits))

    def matches(self, since: datetime | None = None, until: datetime | None = None, *,
                claim_id: str | None = None, limit: int | None = None) -> list[RumorMatch]:
        query = select(RumorMatchRow).order_by(RumorMatchRow.seq)
        if since is not None:
            query = query.where(RumorMatchRow.at >= since)
        if until is not None:
            query = query.where(RumorMatchRow.at < until)
        if claim_id is not None:
            query = query.where(RumorMatchRow.claim_id == claim_id)
        with self._db.session(readonly=True) as s:
            return [RumorMatch(r.claim_id, r.at, r.subject_kind, r.subject_ref, r.score,
                               r.action, r.text_sha256) for r in s.scalars(query.limit(limit))]

    def report(self, since: datetime, until: datetime) -> list[dict[str, object]]:
        """For the regulator: every claim refuted or matched in [since, until), with its
        match counts by action and by subject."""
        matches = self.matches(since, until)
        by_claim: dict[str, Counter[str]] = {}
        for m in matches:
            counts = by_claim.setdefault(m.claim_id, Counter())
            counts[f"action:{m.action}"] += 1
            counts[f"subject:{m.subject_kind}"] += 1
        lines: list[dict[str, object]] = []
        for claim in self.claims(include_retired=True):
            added = since <= claim.created_at < until
            if not added and claim.id not in by_claim:
                continue
            counts = by_claim.get(claim.id, Counter())
            lines.append({
                "claim_id": claim.id, "claim": claim.claim, "refutation": claim.refutation,
                "sources": list(claim.sources), "refuted_on": claim.refuted_on.isoformat(),
                "claim_seen_on": claim.claim_seen_on and claim.claim_seen_on.isoformat(),
                "added_in_period": added, "retired": claim.retired_at is not None,
                "matches": sum(v for k, v in counts.items() if k.startswith("action:")),
                "by_action": {k[7:]: v for k, v in counts.items() if k.startswith("action:")},
                "by_subject": {k[8:]: v for k, v in counts.items()
                               if k.startswith("subject:")}})
        return lines

    def empty_cached(self) -> bool:
        """True when the in-memory index is fresh and holds no active claim, so `check`
        would pass any text without reading the database."""
        index = self._index
        return (index is not None and index.samples is None
                and time.monotonic() - index.built < self._refresh_s)

    def reload(self) -> None:
        """Forget the built index; the next check rebuilds it from the database."""
        self._index = None

    def _current(self) -> _Index:
        index = self._index
        if index is not None and time.monotonic() - index.built < self._refresh_s:
            return index
        with self._lock:
            with self._db.session(readonly=True) as s:
                count, created, retired = s.execute(select(
                    func.count(), func.max(RumorClaimRow.created_at),
                    func.max(RumorClaimRow.retired_at))).one()
            key = (int(count), created, retired)
            index = self._index
            if index is not None and index.key == key:
                index.built = time.monotonic()
                return index
            # Imported here: datasketch loads scipy, which commands that never match
            # texts (most of the CLI) should not pay for.
            from synthguard.moderation.samples import SampleIndex

            claims = self.claims()
            samples = SampleIndex(list(enumerate(c.claim for c in claims)),
                                  threshold=self.settings.threshold) if claims else None
            self._index = _Index(key, claims, samples, time.monotonic())
            return self._index


def _claim(row: RumorClaimRow) -> RefutedClaim:
    action: RumorAction | None = "block" if row.action == "block" else (
        "notice" if row.action == "notice" else None)
    return RefutedClaim(row.id, row.claim, row.refutation, tuple(row.sources),
                        row.claim_seen_on, row.refuted_on, action, row.created_by,
                        row.created_at, row.retired_at)


def _actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > 100:
        raise errors.invalid("actor must be 1..100 characters")
    return actor

