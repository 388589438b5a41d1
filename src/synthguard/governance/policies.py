"""Policy documents (Provisions Art. 8): management rules, platform conventions and the
service agreement, each versioned, with every user's acceptance of every version.

Publishing makes a new version current. A version that requires acceptance must be
accepted before the user generates again: `must_accept(user_id)` lists the current
versions the user has not accepted, and the gateway refuses generation while it is not
empty. The service agreement must describe how generated content is labelled (Measures
for Labeling AI-Generated Synthetic Content Art. 8); `labeling_section` writes that part
from the provider's own configuration, and `publish` refuses an agreement without it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synthguard.config import Config
from synthguard.governance import errors
from synthguard.governance.models import PolicyAcceptanceRow, PolicyVersionRow
from synthguard.store import Database
from synthguard.store.models import User

PolicyKind = Literal["management_rules", "platform_conventions", "service_agreement"]
Channel = Literal["api", "web", "app"]
MAX_BODY = 200_000
LABELING_HEADING = "## 生成合成内容标识"
_POSITIONS = {"start": "开头", "end": "结尾", "both": "开头和结尾"}


@dataclass(frozen=True)
class PolicyVersion:
    kind: str
    version: int
    title: str
    body: str  # Markdown
    sha256: str
    requires_acceptance: bool
    published_at: datetime
    published_by: str


@dataclass(frozen=True)
class PolicyRef:
    kind: str
    version: int
    title: str


@dataclass(frozen=True)
class Acceptance:
    user_id: str
    kind: str
    version: int
    accepted_at: datetime
    channel: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _kind(kind: str) -> PolicyKind:
    if kind not in get_args(PolicyKind):
        raise errors.not_found(f"no policy kind {kind!r} (one of "
                               f"{', '.join(get_args(PolicyKind))})", "unknown_policy")
    return kind  # type: ignore[return-value]


def labeling_section(config: Config) -> str:
    """The labeling method, as the service agreement must state it (Measures Art. 8-10)."""
    where = _POSITIONS.get(config.notice_position, "开头")
    producer = config.producer_code or "（服务提供者编码）"
    return "\n".join([
        LABELING_HEADING, "",
        "1. 显式标识：本服务生成的文本在" + where + f"添加提示“{config.notice}”；生成的图片、"
        "视频在画面中添加文字提示，音频在开头添加语音提示，交互界面在显著位置持续提示。",
        "2. 隐式标识：生成的文件在元数据中按 GB 45438-2025 附录 E 写入 AIGC 标识"
        f"（Label、ContentProducer、ProduceID 等字段），服务提供者编码为 {producer}。",
        "3. 用户不得恶意删除、篡改、伪造、隐匿上述标识，也不得为他人实施上述行为提供"
        "工具或服务。",
        "4. 用户申请取得不含显式标识的内容时，应当在发布、传播时自行添加标识并承担相应"
        "责任；本服务依法留存相关日志不少于六个月。",
        "5. 请仔细阅读并理解本节的标识管理要求。",
    ]) + "\n"


class Policies:
    """Versioned policy pages and users' acceptances.

    `must_accept` runs before every generation, so it reads the database only when it
    has to: the current versions that need acceptance are cached for `cache_s` seconds
    (a version published through this object counts at once, one published by another
    process within `cache_s`, as with the service switches), and acceptances, which are
    never withdrawn, are remembered once seen.
    """

    _MAX_USERS_CACHED = 100_000

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utcnow,
                 cache_s: float = 2.0) -> None:
        self._db = db
        self._clock = clock
        self._cache_s = cache_s
        self._lock = threading.Lock()
        self._required: tuple[float, tuple[PolicyRef, ...]] | None = None
        self._accepted: dict[str, set[tuple[str, int]]] = {}

    def publish(self, kind: str, title: str, body: str, *, actor: str,
                requires_acceptance: bool = True) -> PolicyVersion:
        kind = _kind(kind)
        title, body, actor = title.strip(), body.strip() + "\n", actor.strip()
        if not title or len(title) > 200 or not actor or len(actor) > 100:
            raise errors.invalid("a policy needs a title (1..200) and an actor (1..100)")
        if len(body) > MAX_BODY or not body.strip():
            raise errors.invalid(f"a policy body is 1..{MAX_BODY} characters")
        if kind == "service_agreement" and "标识" not in body:
            raise errors.invalid("the service agreement must describe the labeling method "
                                 "(Measures Art. 8); see labeling_section", "labeling_missing")
        with self._db.session() as s:
            latest = s.scalar(select(func.max(PolicyVersionRow.version))
                              .where(PolicyVersionRow.kind == kind)) or 0
            row = PolicyVersionRow(kind=kind, version=latest + 1, title=title, body=body,
                                   sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
                                   requires_acceptance=requires_acceptance,
                                   published_at=self._clock(), published_by=actor)
            s.add(row)
            try:
                s.flush()
            except IntegrityError:  # a concurrent publish took the number
                raise errors.conflict("another version was published meanwhile; retry",
                                      "concurrent_publish") from None
            version = _version(row)
        with self._lock:
            self._required = None
        return version

    def current(self, kind: str) -> PolicyVersion | None:
        with self._db.session(readonly=True) as s:
            row = self._latest(s, _kind(kind))
            return None if row is None else _version(row)

    def current_all(self) -> list[PolicyVersion]:
        return [v for k in get_args(PolicyKind) if (v := self.current(k)) is not None]

    def version(self, kind: str, version: int) -> PolicyVersion:
        with self._db.session(readonly=True) as s:
            row = s.get(PolicyVersionRow, (_kind(kind), version))
            if row is None:
                raise errors.not_found(f"no version {version} of {kind}", "unknown_policy")
            return _version(row)

    def history(self, kind: str) -> list[PolicyVersion]:
        with self._db.session(readonly=True) as s:
            return [_version(r) for r in s.scalars(select(PolicyVersionRow).where(
                PolicyVersionRow.kind == _kind(kind)).order_by(PolicyVersionRow.version))]

    def accept(self, user_id: str, kind: str, version: int, *,
               channel: Channel = "api") -> Acceptance:
        """Record that the user accepted this version; only the current one can be
        accepted. Accepting again keeps the first acceptance."""
        kind = _kind(kind)
        if channel not in get_args(Channel):
            raise errors.invalid(f"channel must be one of {', '.join(get_args(Channel))}")
        with self._db.session() as s:
            if s.get(User, user_id) is None:
                raise errors.not_found(f"no user {user_id!r}", "unknown_user")
            latest = self._latest(s, kind)
            if latest is None or latest.version != version:
                raise errors.conflict(f"version {version} of {kind} is not the current one"
                                      + (f" ({latest.version})" if latest else ""),
                                      "not_current_version")
            row = s.get(PolicyAcceptanceRow, (user_id, kind, version))
            if row is None:
                row = PolicyAcceptanceRow(user_id=user_id, kind=kind, version=version,
                                          accepted_at=self._clock(), channel=channel)
                s.add(row)
            accepted = Acceptance(row.user_id, row.kind, row.version, row.accepted_at,
                                  row.channel)
        self._remember(user_id, [(kind, version)])
        return accepted

    def must_accept(self, user_id: str) -> list[PolicyRef]:
        """The current versions that require acceptance and that this user has not
        accepted: the gateway refuses generation while this is not empty."""
        with self._lock:
            known = set(self._accepted.get(user_id, ()))
        missing = [ref for ref in self._required_now() if (ref.kind, ref.version) not in known]
        if not missing:
            return []
        with self._db.session(readonly=True) as s:
            found = {(kind, version) for kind, version in s.execute(
                select(PolicyAcceptanceRow.kind, PolicyAcceptanceRow.version).where(
                    PolicyAcceptanceRow.user_id == user_id,
                    PolicyAcceptanceRow.kind.in_({ref.kind for ref in missing})))}
        self._remember(user_id, found)
        return [ref for ref in missing if (ref.kind, ref.version) not in found]

    def cleared_cached(self, user_id: str) -> bool:
        """True when the caches alone show this user has accepted every current version
        (no database read); False means `must_accept` has to be asked."""
        with self._lock:
            if self._required is None or time.monotonic() - self._required[0] >= self._cache_s:
                return False
            known = self._accepted.get(user_id, set())
            return all((ref.kind, ref.version) in known for ref in self._required[1])

    def _required_now(self) -> tuple[PolicyRef, ...]:
        """The current version of each kind, where it requires acceptance (cached)."""
        with self._lock:
            if self._required is not None and time.monotonic() - self._required[0] < self._cache_s:
                return self._required[1]
        with self._db.session(readonly=True) as s:
            latest = (select(PolicyVersionRow.kind, func.max(PolicyVersionRow.version)
                             .label("version")).group_by(PolicyVersionRow.kind).subquery())
            rows = s.execute(
                select(PolicyVersionRow.kind, PolicyVersionRow.version, PolicyVersionRow.title)
                .join(latest, (latest.c.kind == PolicyVersionRow.kind)
                      & (latest.c.version == PolicyVersionRow.version))
                .where(PolicyVersionRow.requires_acceptance.is_(True))
                .order_by(PolicyVersionRow.kind)).all()
        required = tuple(PolicyRef(kind, version, title) for kind, version, title in rows)
        with self._lock:
            self._required = (time.monotonic(), required)
        return required

    def _remember(self, user_id: str, accepted: Iterable[tuple[str, int]]) -> None:
        with self._lock:
            if user_id not in self._accepted and len(self._accepted) >= self._MAX_USERS_CACHED:
                self._accepted.clear()
            self._accepted.setdefault(user_id, set()).update(accepted)

    def acceptances(self, user_id: str) -> list[Acceptance]:
        with self._db.session(readonly=True) as s:
            return [Acceptance(r.user_id, r.kind, r.version, r.accepted_at, r.channel)
                    for r in s.scalars(select(PolicyAcceptanceRow).where(
                        PolicyAcceptanceRow.user_id == user_id).order_by(
                        PolicyAcceptanceRow.accepted_at, PolicyAcceptanceRow.kind))]

    def acceptance_count(self, kind: str, version: int) -> int:
        with self._db.session(readonly=True) as s:
            return s.scalar(select(func.count()).select_from(PolicyAcceptanceRow).where(
                PolicyAcceptanceRow.kind == _kind(kind),
                PolicyAcceptanceRow.version == version)) or 0

    @staticmethod
    def _latest(s: Session, kind: str) -> PolicyVersionRow | None:
        return s.scalar(select(PolicyVersionRow).where(PolicyVersionRow.kind == kind)
                        .order_by(PolicyVersionRow.version.desc()).limit(1))


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(row.kind, row.version, row.title, row.body, row.sha256,
                         row.requires_acceptance, row.published_at, row.published_by)
