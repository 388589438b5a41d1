"""Turning the paths a user typed into the files to work on, and where outputs go."""

from __future__ import annotations

import hashlib
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthguard._atomic import TEMP_SUFFIX
from synthguard.errors import SynthGuardError


@dataclass(frozen=True)
class Job:
    """One input file, the folder it was found under (for mirroring), and its index."""

    path: Path
    root: Path | None
    index: int


def walk(paths: Iterable[Path], *, recursive: bool, extensions: set[str]) -> list[Job]:
    """Files named directly are always taken; folders give the files whose extension a
    carrier claims (recursing with `recursive`); hidden files and our temp files are not."""
    jobs: list[Job] = []
    for p in paths:
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            for f in sorted(p.glob(pattern)):
                rel = f.relative_to(p)
                if (f.is_file() and f.suffix.lower() in extensions
                        and not any(part.startswith(".") for part in rel.parts)
                        and TEMP_SUFFIX not in f.name):
                    jobs.append(Job(f, p, len(jobs)))
        elif p.exists():
            jobs.append(Job(p, None, len(jobs)))
        else:
            raise SynthGuardError(f"{p}: no such file or folder")
    return jobs


def output_path(job: Job, out: Path | None, *, single: bool) -> Path | None:
    """Where `job`'s output goes: None means in place. With one input file `out` may name
    the output file; otherwise it is a folder that mirrors the input folders."""
    if out is None:
        return None
    if single and not out.is_dir() and not str(out).endswith(("/", "\\")):
        return out
    rel = job.path.relative_to(job.root) if job.root is not None else Path(job.path.name)
    return out / rel


_PLACEHOLDERS = {"uuid", "index", "stem", "name", "sha256"}


def check_template(template: str, *, many: bool, field: str) -> None:
    """A per-content ID must differ between files: refuse a constant template for many."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    unknown = names - _PLACEHOLDERS
    if unknown:
        raise SynthGuardError(f"{field}: unknown placeholder {{{sorted(unknown)[0]}}}; use "
                              + ", ".join(f"{{{n}}}" for n in sorted(_PLACEHOLDERS)))
    if many and not names & {"uuid", "index", "stem", "name", "sha256"}:
        raise SynthGuardError(
            f"{field}: the same ID for many files; the ID must be unique per content, "
            "use a placeholder such as {uuid}, {sha256} or {stem}")


def expand(template: str, job: Job) -> str:
    """Fill the placeholders of an ID template for one file."""
    values: dict[str, object] = {"index": job.index, "stem": job.path.stem,
                                 "name": job.path.name}
    if "{uuid}" in template:
        values["uuid"] = uuid.uuid4().hex
    if "{sha256}" in template:
        values["sha256"] = _sha256_prefix(job.path)
    return template.format(**{k: v for k, v in values.items()}, **{
        k: "" for k in _PLACEHOLDERS - values.keys()})


def _sha256_prefix(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


