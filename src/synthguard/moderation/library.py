"""The feature library (特征库): entries, their entry standard, workflow and releases.

Entry standard (入库标准), checked by `entry_problems`:
- a risk id from Appendix A (taxonomy.py) and a kind: keyword, phrase (a keyword with a
  context rule), regex (RE2, on the normalized view), sample (a known-bad text for
  near-duplicate search) or image_hash (a 64-bit pHash in hex);
- keywords of at least 2 characters after normalization (single characters flag
  everything: 日 in 生日快乐), regexes that RE2 accepts and that cannot match nothing,
  samples of 20-512 characters;
- an action (block / review / score), a source and an author; a reviewer who is not the
  author before an entry can be reviewed or active (annotation and review by different
  people, as TC260-003 asks of safety annotation);
- effective/expiry dates in order; must-match and must-not-match examples, which a
  release checks against the built engine (`engine.check_examples`).

Procedure (入库程序): candidate → reviewed → active → retired, every step through
`transition`, which returns the changed entry and the record of the change; a content
change (`revise`) makes a new version that starts again as a candidate. A release is
the frozen, hashed set of entries active and in force on its date.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from synthguard.errors import SynthGuardError
from synthguard.moderation import taxonomy
from synthguard.moderation.matcher import regex_problem
from synthguard.moderation.normalize import BOUNDARY, DEFAULT_MAX_GAP, fold_pattern, is_separator
from synthguard.moderation.phash import from_hex
from synthguard.moderation.samples import MAX_SAMPLE_CHARS, MIN_SAMPLE_CHARS

Kind = Literal["keyword", "phrase", "regex", "sample", "image_hash"]
Action = Literal["block", "review", "score"]
Status = Literal["candidate", "reviewed", "active", "retired"]
Stage = Literal["input", "output"]
KINDS: tuple[Kind, ...] = get_args(Kind)
ACTIONS: tuple[Action, ...] = get_args(Action)
STATUSES: tuple[Status, ...] = get_args(Status)
STAGES: tuple[Stage, ...] = get_args(Stage)
KEYWORD_KINDS = frozenset({"keyword", "phrase"})  # what counts toward the TC260 minimums
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "candidate": frozenset({"reviewed", "retired"}),
    "reviewed": frozenset({"active", "candidate", "retired"}),
    "active": frozenset({"retired"}),
    "retired": frozenset(),
}
MAX_CONTEXT_WINDOW = 200


class LibraryError(SynthGuardError):
    """An entry breaks the entry standard, or a file of entries cannot be read."""

    code = "invalid_library"

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(shown + more)
        self.problems = problems


class WorkflowError(SynthGuardError):
    """A status change the workflow does not allow."""

    code = "workflow"


@dataclass(frozen=True)
class ContextRule:
    """A phrase counts only with one of `near` and none of `absent` within `window`
    characters of it (in the view where it matched)."""

    near: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    window: int = 20


@dataclass(frozen=True)
class Entry:
    id: str
    risk_id: str
    kind: Kind
    pattern: str
    action: Action
    source: str
    author: str
    status: Status = "candidate"
    version: int = 1
    reviewer: str | None = None
    score: float = 1.0  # weight toward the risk's review threshold (action "score")
    context: ContextRule | None = None
    pinyin: bool = False  # also match its pinyin and initials (review only)
    stages: tuple[Stage, ...] = STAGES
    allow: tuple[str, ...] = ()  # phrases around a match that make it benign
    must_match: tuple[str, ...] = ()
    must_not_match: tuple[str, ...] = ()
    effective: date | None = None
    expires: date | None = None
    notes: str = ""

    def in_force(self, on: date) -> bool:
        return ((self.effective is None or self.effective <= on)
                and (self.expires is None or on < self.expires))

    def to_dict(self) -> dict[str, Any]:
        """The documented file form (docs/feature-library.md): JSON types only."""
        out = {f: getattr(self, f) for f in _FIELDS}  # not asdict: 100,000 entries
        ctx = self.context
        out["context"] = None if ctx is None else {
            "near": list(ctx.near), "absent": list(ctx.absent), "window": ctx.window}
        for key in ("stages", "allow", "must_match", "must_not_match"):
            out[key] = list(out[key])
        for key in ("effective", "expires"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        """Parse and check one entry; LibraryError lists every problem found."""
        problems: list[str] = []
        known = {f for f in cls.__dataclass_fields__}
        problems += [f"unknown field {k!r}" for k in data if k not in known]
        for key in ("id", "risk_id", "kind", "pattern", "action", "source", "author"):
            if not isinstance(data.get(key), str) or not data[key]:
                problems.append(f"{key}: required text")
        if problems:
            raise LibraryError(problems)
        try:
            entry = cls(
                id=data["id"], risk_id=data["risk_id"], kind=data["kind"],
                pattern=data["pattern"], action=data["action"], source=data["source"],
                author=data["author"], status=data.get("status", "candidate"),
                version=_int(data.get("version", 1), "version"),
                reviewer=data.get("reviewer") or None,
                score=_float(data.get("score", 1.0), "score"),
                context=_context(data.get("context")), pinyin=_bool(data.get("pinyin", False)),
                stages=_texts(data.get("stages", list(STAGES)), "stages"),  # type: ignore[arg-type]
                allow=_texts(data.get("allow", []), "allow"),
                must_match=_texts(data.get("must_match", []), "must_match"),
                must_not_match=_texts(data.get("must_not_match", []), "must_not_match"),
                effective=_date(data.get("effective"), "effective"),
                expires=_date(data.get("expires"), "expires"),
                notes=str(data.get("notes") or ""))
        except (TypeError, ValueError) as exc:
            raise LibraryError([str(exc)]) from None
        problems = entry_problems(entry)
        if problems:
            raise LibraryError([f"{entry.id}: {p}" for p in problems])
        return entry


_FIELDS = tuple(f.name for f in fields(Entry))


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name}: not an integer: {value!r}")
    return int(value)


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name}: not a number: {value!r}")
    return float(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", ""):
            raise ValueError(f"pinyin: not true/false: {value!r}")
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise ValueError(f"pinyin: not true/false: {value!r}")
    return value


def _texts(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}: expected a list of strings")
    return tuple(value)


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name}: not an ISO date (YYYY-MM-DD): {value!r}") from None


def _context(value: Any) -> ContextRule | None:
    if value in (None, ""):
        return None
    if not isinstance(value, Mapping) or set(value) - {"near", "absent", "window"}:
        raise ValueError("context: expected {near: [...], absent: [...], window: n}")
    return ContextRule(_texts(value.get("near", []), "context.near"),
                       _texts(value.get("absent", []), "context.absent"),
                       _int(value.get("window", 20), "context.window"))


def entry_problems(entry: Entry) -> list[str]:
    """Everything about an entry that breaks the entry standard (empty when it passes)."""
    p: list[str] = []
    if entry.risk_id not in taxonomy.RISK_BY_ID:
        p.append(f"risk_id {entry.risk_id!r} is not in Appendix A (A.1.1 .. A.5.2)")
    if entry.kind not in KINDS:
        p.append(f"kind {entry.kind!r} is not one of {', '.join(KINDS)}")
    if entry.action not in ACTIONS:
        p.append(f"action {entry.action!r} is not one of {', '.join(ACTIONS)}")
    if entry.status not in STATUSES:
        p.append(f"status {entry.status!r} is not one of {', '.join(STATUSES)}")
    if not set(entry.stages) <= set(STAGES) or not entry.stages:
        p.append("stages must be a non-empty subset of input, output")
    if entry.version < 1:
        p.append("version must be 1 or more")
    if entry.score <= 0:
        p.append("score must be positive")
    if entry.status in ("reviewed", "active") and not entry.reviewer:
        p.append(f"a {entry.status} entry needs a reviewer")
    if entry.reviewer and entry.reviewer == entry.author:
        p.append("the reviewer must not be the author")
    if entry.effective and entry.expires and entry.expires <= entry.effective:
        p.append("expires must be after effective")
    p += _pattern_problems(entry)
    if entry.context is not None:
        if entry.kind != "phrase":
            p.append("only phrase entries have a context rule")
        elif not entry.context.near and not entry.context.absent:
            p.append("a context rule needs near or absent words")
        if not 1 <= entry.context.window <= MAX_CONTEXT_WINDOW:
            p.append(f"context window must be 1..{MAX_CONTEXT_WINDOW}")
    elif entry.kind == "phrase":
        p.append("a phrase entry needs a context rule (otherwise use kind keyword)")
    if entry.pinyin and entry.kind not in KEYWORD_KINDS:
        p.append("pinyin matching is for keyword and phrase entries")
    if entry.allow and entry.kind not in KEYWORD_KINDS:
        p.append("allow phrases are for keyword and phrase entries")
    return p


def _long_gap(pattern: str) -> bool:
    run = 0
    for c in pattern:
        run = run + 1 if is_separator(c) else 0
        if run > DEFAULT_MAX_GAP:
            return True
    return False


def _pattern_problems(entry: Entry) -> list[str]:
    if entry.kind in KEYWORD_KINDS:
        if len(fold_pattern(entry.pattern, "loose")) < 2:
            return ["a keyword needs at least 2 characters after normalization"]
        if BOUNDARY in fold_pattern(entry.pattern, "normalized") or _long_gap(entry.pattern):
            return [f"a keyword may not hold more than {DEFAULT_MAX_GAP} separators in a row "
                    "(the loose view reads such a run as a word boundary)"]
        bad = [a for a in entry.allow
               if fold_pattern(entry.pattern, "normalized") not in fold_pattern(a, "normalized")]
        return [f"allow phrase {a!r} does not contain the keyword" for a in bad]
    if entry.kind == "regex":
        problem = regex_problem(entry.pattern)
        return [problem] if problem else []
    if entry.kind == "sample":
        n = len(fold_pattern(entry.pattern, "loose"))
        if not MIN_SAMPLE_CHARS <= n <= MAX_SAMPLE_CHARS:
            return [f"a sample needs {MIN_SAMPLE_CHARS}-{MAX_SAMPLE_CHARS} characters "
                    f"after normalization (has {n})"]
        return []
    if entry.kind == "image_hash":
        try:
            from_hex(entry.pattern)
            for example in (*entry.must_match, *entry.must_not_match):
                from_hex(example)
        except ValueError as exc:
            return [str(exc)]
    return []


@dataclass(frozen=True)
class StatusChange:
    """One step of the workflow: who moved which version of an entry, and when."""

    entry_id: str
    version: int
    from_status: Status | None  # None: the entry was added
    to_status: Status
    actor: str
    at: datetime
    note: str = ""


def transition(entry: Entry, to: Status, *, actor: str, at: datetime | None = None,
               note: str = "") -> tuple[Entry, StatusChange]:
    """Move an entry one step; reviewing it records the actor as its reviewer."""
    if to not in TRANSITIONS[entry.status]:
        raise WorkflowError(f"{entry.id}: cannot go from {entry.status} to {to}")
    if to == "reviewed" and actor == entry.author:
        raise WorkflowError(f"{entry.id}: the author cannot review their own entry")
    changed = replace(entry, status=to,
                      reviewer=actor if to == "reviewed" else
                      None if to == "candidate" else entry.reviewer)
    return changed, StatusChange(entry.id, entry.version, entry.status, to, actor,
                                 at or datetime.now(UTC), note)


def revise(entry: Entry, *, actor: str, at: datetime | None = None,
           **changes: Any) -> tuple[Entry, StatusChange]:
    """A content change: the next version, back to candidate with no reviewer."""
    fixed = {"id", "status", "version", "reviewer", "author"} & changes.keys()
    if fixed:
        raise WorkflowError(f"{entry.id}: {', '.join(sorted(fixed))} change only through "
                            "the workflow")
    if entry.status == "retired":
        raise WorkflowError(f"{entry.id}: a retired entry is not revised; add a new one")
    new = replace(entry, **changes, status="candidate", version=entry.version + 1,
                  reviewer=None, author=actor)
    problems = entry_problems(new)
    if problems:
        raise LibraryError([f"{entry.id}: {p}" for p in problems])
    return new, StatusChange(entry.id, new.version, entry.status, "candidate", actor,
                             at or datetime.now(UTC), "revised")


@dataclass
class FeatureLibrary:
    """Entries (latest version of each) and the history of every status change."""

    entries: dict[str, Entry] = field(default_factory=dict)
    history: list[StatusChange] = field(default_factory=list)

    def add(self, entry: Entry, *, actor: str, at: datetime | None = None) -> Entry:
        if entry.id in self.entries:
            raise WorkflowError(f"{entry.id}: already in the library; revise it instead")
        if entry.status != "candidate":
            raise WorkflowError(f"{entry.id}: new entries start as candidates")
        problems = entry_problems(entry)
        if problems:
            raise LibraryError([f"{entry.id}: {p}" for p in problems])
        self.entries[entry.id] = entry
        self.history.append(StatusChange(entry.id, entry.version, None, "candidate", actor,
                                         at or datetime.now(UTC), "added"))
        return entry

    def move(self, entry_id: str, to: Status, *, actor: str, at: datetime | None = None,
             note: str = "") -> Entry:
        entry, change = transition(self._get(entry_id), to, actor=actor, at=at, note=note)
        self.entries[entry_id] = entry
        self.history.append(change)
        return entry

    def revise(self, entry_id: str, *, actor: str, at: datetime | None = None,
               **changes: Any) -> Entry:
        entry, change = revise(self._get(entry_id), actor=actor, at=at, **changes)
        self.entries[entry_id] = entry
        self.history.append(change)
        return entry

    def _get(self, entry_id: str) -> Entry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise WorkflowError(f"no entry {entry_id!r}") from None

    def release(self, version: str, *, on: date | None = None) -> Release:
        return make_release(self.entries.values(), version, on=on)


@dataclass(frozen=True)
class Release:
    """A frozen set of active entries; `sha256` covers their canonical JSON lines."""

    version: str
    on: date
    entries: tuple[Entry, ...]
    sha256: str

    def manifest(self) -> dict[str, Any]:
        return {"version": self.version, "on": self.on.isoformat(),
                "entries": len(self.entries), "sha256": self.sha256}


def canonical_line(entry: Entry) -> str:
    return json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def make_release(entries: Iterable[Entry], version: str, *, on: date | None = None
                 ) -> Release:
    """The active entries in force on `on` (today by default), sorted by id and hashed."""
    day = on or datetime.now(UTC).date()
    chosen = sorted((e for e in entries if e.status == "active" and e.in_force(day)),
                    key=lambda e: e.id)
    ids = Counter(e.id for e in chosen)
    duplicated = [i for i, n in ids.items() if n > 1]
    if duplicated:
        raise LibraryError([f"entry id {i!r} appears more than once" for i in duplicated])
    digest = hashlib.sha256()
    for entry in chosen:
        digest.update(canonical_line(entry).encode() + b"\n")
    return Release(version, day, tuple(chosen), digest.hexdigest())
