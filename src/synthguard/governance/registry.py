"""Registries of algorithms and training data (Provisions Art. 14, 15, 19, 20).

Algorithms: each deep-synthesis algorithm with its filing number (备案号) and public
information link (Art. 19 requires both shown prominently), the gateway model routes it
serves, its security assessments and periodic reviews (Art. 15, 20), and the date the
next review is due: a passed or conditional assessment moves it one review interval past
the assessment, a failed one does not. `reviews_due` lists overdue and upcoming reviews.
`public_filings` / `filing_for_model` are what `GET /v1/models` and the public pages show.

Datasets: source, licence, collection date, the PII scans run over their records
(`pii.py`; counts and masked examples only) and the manual sample checks.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.governance import errors
from synthguard.governance.models import (
    AlgorithmRow,
    AssessmentRow,
    DatasetRow,
    PiiScanRow,
    SampleCheckRow,
)
from synthguard.governance.pii import scan_records
from synthguard.store import Database

AssessmentKind = Literal["security_assessment", "periodic_review", "biometric_editing",
                         "public_opinion"]
Outcome = Literal["passed", "conditional", "failed"]
DEFAULT_REVIEW_INTERVAL_DAYS = 365
MAX_TEXT = 200


@dataclass(frozen=True)
class Assessment:
    algorithm_id: str
    kind: str
    assessed_on: date
    assessor: str
    outcome: str
    report_ref: str | None
    notes: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Algorithm:
    id: str
    name: str
    algorithm_type: str
    filing_number: str | None
    public_info_url: str | None
    models: tuple[str, ...]
    status: str  # pending (not yet filed) | filed | retired
    filed_on: date | None
    review_interval_days: int
    next_review_on: date
    assessments: tuple[Assessment, ...]


@dataclass(frozen=True)
class PublicFiling:
    """What the public sees for a filed algorithm."""

    algorithm: str
    filing_number: str
    public_info_url: str | None
    models: tuple[str, ...]


@dataclass(frozen=True)
class ReviewDue:
    algorithm_id: str
    name: str
    next_review_on: date
    days_left: int  # negative when overdue


@dataclass(frozen=True)
class PiiScan:
    dataset_id: str
    at: datetime
    actor: str
    records_scanned: int
    records_with_pii: int
    counts: dict[str, int]
    examples: dict[str, list[str]]


@dataclass(frozen=True)
class SampleCheck:
    dataset_id: str
    checked_on: date
    checker: str
    sample_size: int
    problems_found: int
    outcome: str
    notes: str


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    source: str
    licence: str
    collected_on: date
    description: str
    algorithm_id: str | None
    created_by: str
    created_at: datetime
    pii_scans: tuple[PiiScan, ...]
    sample_checks: tuple[SampleCheck, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        raise errors.invalid(f"{what} must be one line of 1..{limit} characters")
    return value


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 500:
        raise errors.invalid("the public information link must be an http(s) URL",
                             "invalid_url")
    return value.strip()


class Registry:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._clock = clock

    # -- algorithms --------------------------------------------------------------------

    def register_algorithm(self, name: str, algorithm_type: str, models: Sequence[str], *,
                           actor: str, filing_number: str | None = None,
                           public_info_url: str | None = None, filed_on: date | None = None,
                           review_interval_days: int = DEFAULT_REVIEW_INTERVAL_DAYS,
                           first_review_on: date | None = None) -> Algorithm:
        _text(actor, "actor", 100)
        if not 1 <= review_interval_days <= 3 * 366:
            raise errors.invalid("the review interval must be 1..1098 days")
        now = self._clock()
        row = AlgorithmRow(
            id="alg_" + secrets.token_hex(12), name=_text(name, "name"),
            algorithm_type=_text(algorithm_type, "algorithm type", 40),
            models=sorted({_text(m, "model route") for m in models}), status="pending",
            review_interval_days=review_interval_days,
            next_review_on=first_review_on or (now.date() + timedelta(days=review_interval_days)),
            created_at=now, updated_at=now)
        with self._db.session() as s:
            s.add(row)
            if filing_number is not None:
                self._file(s, row, filing_number, public_info_url, filed_on or now.date())
        return self.algorithm(row.id)

    def record_filing(self, algorithm_id: str, filing_number: str, *,
                      public_info_url: str | None, filed_on: date) -> Algorithm:
        with self._db.session() as s:
            self._file(s, self._algorithm(s, algorithm_id), filing_number, public_info_url,
                       filed_on)
        return self.algorithm(algorithm_id)

    def set_models(self, algorithm_id: str, models: Sequence[str]) -> Algorithm:
        with self._db.session() as s:
            row = self._algorithm(s, algorithm_id)
            row.models = sorted({_text(m, "model route") for m in models})
            row.updated_at = self._clock()
        return self.algorithm(algorithm_id)

    def retire_algorithm(self, algorithm_id: str) -> Algorithm:
        with self._db.session() as s:
            row = self._algorithm(s, algorithm_id)
            row.status, row.updated_at = "retired", self._clock()
        return self.algorithm(algorithm_id)

    def record_assessment(self, algorithm_id: str, kind: AssessmentKind, *, assessed_on: date,
                          assessor: str, outcome: Outcome, actor: str,
                          report_ref: str | None = None, notes: str = "") -> Algorithm:
        if kind not in get_args(AssessmentKind):
            raise errors.invalid(f"kind must be one of {', '.join(get_args(AssessmentKind))}")
        if outcome not in get_args(Outcome):
            raise errors.invalid(f"outcome must be one of {', '.join(get_args(Outcome))}")
        if assessed_on > self._clock().date():
            raise errors.invalid("an assessment cannot be recorded before it happened")
        with self._db.session() as s:
            row = self._algorithm(s, algorithm_id)
            s.add(AssessmentRow(algorithm_id=row.id, kind=kind, assessed_on=assessed_on,
                                assessor=_text(assessor, "assessor"), outcome=outcome,
                                report_ref=_text(report_ref, "report reference", 500)
                                if report_ref else None,
                                notes=notes.strip()[:5000], recorded_by=_text(actor, "actor", 100),
                                recorded_at=self._clock()))
            if outcome != "failed":
                next_review = assessed_on + timedelta(days=row.review_interval_days)
                row.next_review_on = max(row.next_review_on, next_review)
            row.updated_at = self._clock()
        return self.algorithm(algorithm_id)

    def algorithm(self, algorithm_id: str) -> Algorithm:
        with self._db.session(readonly=True) as s:
            return self._view(s, self._algorithm(s, algorithm_id))

    def algorithms(self) -> list[Algorithm]:
        with self._db.session(readonly=True) as s:
            return [self._view(s, r) for r in s.scalars(
                select(AlgorithmRow).order_by(AlgorithmRow.created_at, AlgorithmRow.id))]

    def reviews_due(self, today: date | None = None, *, within_days: int = 30
                    ) -> list[ReviewDue]:
        """Algorithms in service whose next review is due within `within_days`, or past."""
        today = today or self._clock().date()
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(AlgorithmRow).where(
                AlgorithmRow.status != "retired",
                AlgorithmRow.next_review_on <= today + timedelta(days=within_days))
                .order_by(AlgorithmRow.next_review_on, AlgorithmRow.id))
            return [ReviewDue(r.id, r.name, r.next_review_on, (r.next_review_on - today).days)
                    for r in rows]

    def public_filings(self) -> list[PublicFiling]:
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(AlgorithmRow).where(AlgorithmRow.status == "filed")
                             .order_by(AlgorithmRow.filed_on, AlgorithmRow.id))
            return [_public(r) for r in rows]

    def filing_for_model(self, model: str) -> PublicFiling | None:
        """The filing a gateway model route is served under (for `GET /v1/models`)."""
        return next((f for f in self.public_filings() if model in f.models), None)

    def _file(self, s: Session, row: AlgorithmRow, number: str, url: str | None,
              filed_on: date) -> None:
        if row.status == "retired":
            raise errors.conflict("a retired algorithm cannot be filed")
        number = _text(number, "filing number", 64)
        other = s.scalar(select(AlgorithmRow.id).where(AlgorithmRow.filing_number == number,
                                                       AlgorithmRow.id != row.id))
        if other is not None:
            raise errors.conflict(f"filing number already recorded for {other}",
                                  "duplicate_filing")
        row.filing_number, row.public_info_url = number, _url(url)
        row.filed_on, row.status, row.updated_at = filed_on, "filed", self._clock()

    @staticmethod
    def _algorithm(s: Session, algorithm_id: str) -> AlgorithmRow:
        row = s.get(AlgorithmRow, algorithm_id)
        if row is None:
            raise errors.not_found(f"no algorithm {algorithm_id!r}")
        return row

    @staticmethod
    def _view(s: Session, row: AlgorithmRow) -> Algorithm:
        assessments = s.scalars(select(AssessmentRow).where(
            AssessmentRow.algorithm_id == row.id).order_by(AssessmentRow.seq))
        return Algorithm(
            row.id, row.name, row.algorithm_type, row.filing_number, row.public_info_url,
            tuple(row.models), row.status, row.filed_on, row.review_interval_days,
            row.next_review_on,
            tuple(Assessment(a.algorithm_id, a.kind, a.assessed_on, a.assessor, a.outcome,
                             a.report_ref, a.notes, a.recorded_by, a.recorded_at)
                  for a in assessments))

    # -- datasets ----------------------------------------------------------------------

    def add_dataset(self, name: str, *, source: str, licence: str, collected_on: date,
                    actor: str, description: str = "",
                    algorithm_id: str | None = None) -> Dataset:
        row = DatasetRow(id="dst_" + secrets.token_hex(12), name=_text(name, "name"),
                         source=_text(source, "source", 500), licence=_text(licence, "licence"),
                         collected_on=collected_on, description=description.strip()[:5000],
                         algorithm_id=algorithm_id, created_by=_text(actor, "actor", 100),
                         created_at=self._clock())
        with self._db.session() as s:
            if algorithm_id is not None:
                self._algorithm(s, algorithm_id)
            s.add(row)
        return self.dataset(row.id)

    def scan_dataset(self, dataset_id: str, records: Iterable[str], *, actor: str) -> PiiScan:
        """Scan text records for personal information and keep the result."""
        actor = _text(actor, "actor", 100)
        with self._db.session(readonly=True) as s:
            self._dataset(s, dataset_id)
        summary = scan_records(records, today=self._clock().date())
        row = PiiScanRow(dataset_id=dataset_id, at=self._clock(), actor=actor,
                         records_scanned=summary.records_scanned,
                         records_with_pii=summary.records_with_pii,
                         counts=dict(sorted(summary.counts.items())),
                         examples=summary.examples)
        with self._db.session() as s:
            s.add(row)
        return _scan(row)

    def record_sample_check(self, dataset_id: str, *, checked_on: date, sample_size: int,
                            problems_found: int, outcome: Outcome, checker: str,
                            notes: str = "") -> Dataset:
        if outcome not in get_args(Outcome):
            raise errors.invalid(f"outcome must be one of {', '.join(get_args(Outcome))}")
        if sample_size < 1 or not 0 <= problems_found <= sample_size:
            raise errors.invalid("a sample check needs sample_size >= 1 and "
                                 "0 <= problems_found <= sample_size")
        with self._db.session() as s:
            self._dataset(s, dataset_id)
            s.add(SampleCheckRow(dataset_id=dataset_id, checked_on=checked_on,
                                 checker=_text(checker, "checker", 100), sample_size=sample_size,
                                 problems_found=problems_found, outcome=outcome,
                                 notes=notes.strip()[:5000], recorded_at=self._clock()))
        return self.dataset(dataset_id)

    def dataset(self, dataset_id: str) -> Dataset:
        with self._db.session(readonly=True) as s:
            return self._dataset_view(s, self._dataset(s, dataset_id))

    def datasets(self) -> list[Dataset]:
        with self._db.session(readonly=True) as s:
            return [self._dataset_view(s, r) for r in s.scalars(
                select(DatasetRow).order_by(DatasetRow.created_at, DatasetRow.id))]

    @staticmethod
    def _dataset(s: Session, dataset_id: str) -> DatasetRow:
        row = s.get(DatasetRow, dataset_id)
        if row is None:
            raise errors.not_found(f"no dataset {dataset_id!r}")
        return row

    @staticmethod
    def _dataset_view(s: Session, row: DatasetRow) -> Dataset:
        scans = s.scalars(select(PiiScanRow).where(PiiScanRow.dataset_id == row.id)
                          .order_by(PiiScanRow.seq))
        checks = s.scalars(select(SampleCheckRow).where(SampleCheckRow.dataset_id == row.id)
                           .order_by(SampleCheckRow.seq))
        return Dataset(row.id, row.name, row.source, row.licence, row.collected_on,
                       row.description, row.algorithm_id, row.created_by, row.created_at,
                       tuple(_scan(r) for r in scans),
                       tuple(SampleCheck(c.dataset_id, c.checked_on, c.checker, c.sample_size,
                                         c.problems_found, c.outcome, c.notes) for c in checks))


def _public(row: AlgorithmRow) -> PublicFiling:
    assert row.filing_number is not None, "filed algorithms have a number"
    return PublicFiling(row.name, row.filing_number, row.public_info_url, tuple(row.models))


def _scan(row: PiiScanRow) -> PiiScan:
    return PiiScan(row.dataset_id, row.at, row.actor, row.records_scanned,
                   row.records_with_pii, dict(row.counts), dict(row.examples))
