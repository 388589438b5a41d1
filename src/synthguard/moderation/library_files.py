"""Feature-library files: JSON Lines and CSV, as documented in docs/feature-library.md.

JSONL: one entry object per line (`Entry.to_dict`). CSV: one row per entry with the same
column names; list fields (stages, allow, must_match, must_not_match) and the context
rule are JSON inside their cell, empty cells mean "not set". Reading checks every entry
against the entry standard and reports every bad line at once, by line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synthguard.moderation.library import Entry, LibraryError

COLUMNS = ("id", "risk_id", "kind", "pattern", "action", "score", "context", "pinyin", "stages",
           "allow", "must_match", "must_not_match", "source", "author", "reviewer", "status",
           "version", "effective", "expires", "notes")
_JSON_COLUMNS = ("context", "stages", "allow", "must_match", "must_not_match")
MAX_FILE_BYTES = 512 << 20


def read_jsonl(text: str) -> list[Entry]:
    entries, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise LibraryError(["not a JSON object"])
            entries.append(Entry.from_dict(data))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON: {exc.msg}")
        except LibraryError as exc:
            problems += [f"line {number}: {p}" for p in exc.problems]
    _check_ids(entries, problems)
    return entries


def write_jsonl(entries: Iterable[Entry]) -> str:
    return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in entries)


def read_csv(text: str) -> list[Entry]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("id", "risk_id", "kind", "pattern", "action", "source", "author")
               if c not in (reader.fieldnames or ())]
    if missing:
        raise LibraryError([f"CSV header lacks the columns {', '.join(missing)}"])
    entries, problems = [], []
    for row in reader:
        number = reader.line_num
        try:
            entries.append(Entry.from_dict(_from_row(row)))
        except LibraryError as exc:
            problems += [f"line {number}: {p}" for p in exc.problems]
    _check_ids(entries, problems)
    return entries


def _from_row(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    if None in row:
        raise LibraryError(["more cells than header columns"])
    data: dict[str, Any] = {}
    for key, cell in row.items():
        if cell is None or cell == "":
            continue  # absent: the field's default
        if key in _JSON_COLUMNS:
            try:
                data[key] = json.loads(cell)
            except json.JSONDecodeError:
                raise LibraryError([f"{key}: not JSON: {cell!r}"]) from None
        else:
            data[key] = cell
    return data


def write_csv(entries: Iterable[Entry]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = entry.to_dict()
        writer.writerow({k: _cell(k, row[k]) for k in COLUMNS})
    return out.getvalue()


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in _JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_ids(entries: list[Entry], problems: list[str]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            problems.append(f"entry id {entry.id!r} appears more than once")
        seen.add(entry.id)
    if problems:
        raise LibraryError(problems)


def load(path: str | Path) -> list[Entry]:
    """Entries from a .jsonl or .csv file (UTF-8); LibraryError names the file."""
    path = Path(path)
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise LibraryError([f"{path}: expected a .jsonl or .csv file"])
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LibraryError([f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB"])
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LibraryError([f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None
    try:
        return read_csv(text) if path.suffix.lower() == ".csv" else read_jsonl(text)
    except LibraryError as exc:
        raise LibraryError([f"{path}: {p}" for p in exc.problems]) from None


def starter() -> list[Entry]:
    """The small starter library the project wrote (every kind, every category)."""
    return load(Path(__file__).parent / "data" / "starter.jsonl")
