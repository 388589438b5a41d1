"""Entry standard, workflow, releases, coverage numbers and the file formats."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from synthguard.moderation import library_files, taxonomy
from synthguard.moderation.engine import ModerationEngine, check_examples
from synthguard.moderation.library import (
    KINDS,
    Entry,
    FeatureLibrary,
    LibraryError,
    WorkflowError,
    make_release,
    transition,
)
from tests.moderation.conftest import ON, entry


def test_taxonomy_has_5_categories_and_31_risks() -> None:
    assert len(taxonomy.CATEGORIES) == 5 and len(taxonomy.RISKS) == 31
    assert [r.id for r in taxonomy.RISKS][:3] == ["A.1.1", "A.1.2", "A.1.3"]
    assert taxonomy.risk("A.5.2").name == "内容不可靠"
    assert sum(r.keyword_minimum > 0 for r in taxonomy.RISKS) == 17
    with pytest.raises(KeyError, match=r"A\.6\.1"):
        taxonomy.risk("A.6.1")


@pytest.mark.parametrize(("change", "problem"), [
    ({"risk_id": "A.9.9"}, "not in Appendix A"),
    ({"kind": "word"}, "kind"),
    ({"action": "delete"}, "action"),
    ({"pattern": "日"}, "at least 2 characters"),
    ({"pattern": "!!!"}, "at least 2 characters"),
    ({"pattern": "代开      发票"}, "separators in a row"),
    ({"kind": "regex", "pattern": r"(a)\1"}, "RE2"),
    ({"kind": "sample", "pattern": "太短的样本"}, "20-512"),
    ({"kind": "image_hash", "pattern": "xyz"}, "pHash"),
    ({"kind": "phrase"}, "needs a context rule"),
    ({"context": {"near": ["x"]}}, "only phrase entries"),
    ({"reviewer": "alice"}, "must not be the author"),
    ({"reviewer": None}, "needs a reviewer"),
    ({"effective": "2026-05-01", "expires": "2026-04-01"}, "expires must be after"),
    ({"allow": ["无关的短语"]}, "does not contain the keyword"),
    ({"stages": ["middle"]}, "stages"),
    ({"score": 0}, "score must be positive"),
    ({"pinyin": "maybe"}, "true/false"),
    ({"effective": "yesterday"}, "ISO date"),
    ({"colour": "red"}, "unknown field"),
])
def test_entry_standard_rejects_with_a_reason(change: dict[str, Any], problem: str) -> None:
    data: dict[str, Any] = {"id": "x1", "risk_id": "A.1.8", "kind": "keyword",
                            "pattern": "代开发票", "action": "block", "source": "s",
                            "author": "alice", "reviewer": "bob", "status": "active"}
    data.update(change)
    with pytest.raises(LibraryError) as raised:
        Entry.from_dict(data)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_workflow_records_every_change_and_enforces_four_eyes() -> None:
    lib = FeatureLibrary()
    at = datetime(2026, 5, 1, tzinfo=UTC)
    lib.add(entry("代开发票", status="candidate", reviewer=None), actor="alice", at=at)
    with pytest.raises(WorkflowError, match="author cannot review"):
        lib.move("e1", "reviewed", actor="alice")
    with pytest.raises(WorkflowError, match="cannot go from candidate to active"):
        lib.move("e1", "active", actor="bob")
    lib.move("e1", "reviewed", actor="bob", at=at)
    lib.move("e1", "active", actor="carol", at=at)
    assert lib.entries["e1"].reviewer == "bob"
    assert make_release(lib.entries.values(), "r1", on=ON).entries == (lib.entries["e1"],)
    revised = lib.revise("e1", actor="dave", pattern="代开增值税发票")
    assert (revised.version, revised.status, revised.reviewer) == (2, "candidate", None)
    assert make_release(lib.entries.values(), "r2", on=ON).entries == ()
    with pytest.raises(WorkflowError, match="change only through the workflow"):
        lib.revise("e1", actor="dave", status="active")
    assert [(c.from_status, c.to_status, c.actor) for c in lib.history] == [
        (None, "candidate", "alice"), ("candidate", "reviewed", "bob"),
        ("reviewed", "active", "carol"), ("active", "candidate", "dave")]
    retired, change = transition(lib.entries["e1"], "retired", actor="erin")
    assert change.to_status == "retired" and retired.status == "retired"
    with pytest.raises(WorkflowError):
        transition(retired, "active", actor="erin")


def test_release_keeps_only_active_entries_in_force_and_is_hashed() -> None:
    entries = [entry("代开发票", id="a"), entry("刷好评", id="b", status="retired"),
               entry("内部报价单", id="c", effective="2026-07-01"),
               entry("炸火车站", id="d", expires="2026-06-01"),
               entry("傻帽", id="e", status="reviewed")]
    release = make_release(entries, "2026.23", on=ON)
    assert [e.id for e in release.entries] == ["a"]
    again = make_release(list(reversed(entries)), "other", on=ON)
    assert again.sha256 == release.sha256
    changed = make_release([entry("代开发票!", id="a")], "x", on=ON)
    assert changed.sha256 != release.sha256
    with pytest.raises(LibraryError, match="more than once"):
        make_release([entry("代开发票", id="a"), entry("刷好评", id="a")], "x", on=ON)


def test_coverage_counts_keywords_per_risk_against_tc260_minimums() -> None:
    entries = [entry(f"词{i:03d}号", id=f"k{i}", risk_id="A.1.1") for i in range(200)]
    entries += [entry(f"歧视{i:03d}", id=f"d{i}", risk_id="A.2.4") for i in range(99)]
    entries += [entry(r"\b1[3-9][0-9]{9}\b", id="r1", risk_id="A.2.4", kind="regex")]
    report = taxonomy.coverage(make_release(entries, "c", on=ON).entries)
    rows = {r.risk.id: r for r in report.risks}
    assert (rows["A.1.1"].keywords, rows["A.1.1"].meets_minimum) == (200, True)
    assert (rows["A.2.4"].keywords, rows["A.2.4"].other, rows["A.2.4"].meets_minimum) == (
        99, 1, False)
    assert rows["A.3.1"].meets_minimum  # no minimum outside A.1/A.2
    assert report.keywords == 299 and not report.meets_minimums
    assert len(report.short) == 16
    data = report.as_dict()
    assert data["keyword_minimum"] == 10_000 and len(data["risks"]) == 31  # type: ignore[arg-type]
    assert "| A.1.1 | 颠覆政权 | 200 | 200 | 0 | yes |" in report.markdown()


def test_starter_library_covers_every_kind_and_category_and_its_examples_pass() -> None:
    entries = library_files.starter()
    assert {e.kind for e in entries} == set(KINDS)
    assert {e.risk_id[:3] for e in entries} == {c.id for c in taxonomy.CATEGORIES}
    assert any(e.pinyin for e in entries) and any(e.allow for e in entries)
    traps = {t for e in entries for t in e.must_not_match}
    assert {"生日快乐", "虹桥火车站"} <= traps
    engine = ModerationEngine(make_release(entries, "starter", on=ON))
    assert check_examples(engine) == []


def test_check_examples_reports_examples_that_misbehave() -> None:
    bad = entry("代开发票", must_match=["代开增值税发票"], must_not_match=["可代开发票"])
    engine = ModerationEngine(make_release([bad], "x", on=ON))
    assert check_examples(engine) == [
        "e1: must match '代开增值税发票' but does not",
        "e1: must not match '可代开发票' but does"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_files_round_trip_every_field(fmt: str, tmp_path: Path) -> None:
    entries = library_files.starter()
    path = tmp_path / f"lib.{fmt}"
    write = library_files.write_jsonl if fmt == "jsonl" else library_files.write_csv
    path.write_text(write(entries), "utf-8")
    assert library_files.load(path) == entries


def test_csv_cells_hold_json_lists_and_empty_means_default() -> None:
    text = ("id,risk_id,kind,pattern,action,source,author,allow,stages,effective\n"
            'c1,A.1.8,keyword,代开发票,block,s,alice,"[""替代开发票""]",,\n')
    loaded, = library_files.read_csv(text)
    assert loaded.allow == ("替代开发票",) and loaded.stages == ("input", "output")
    assert loaded.effective is None and loaded.status == "candidate"


def test_bad_files_report_every_problem_with_its_line(tmp_path: Path) -> None:
    good = json.dumps(entry("代开发票").to_dict(), ensure_ascii=False)
    lines = [good, "{not json", json.dumps({"id": "x"}), "[1, 2]", good]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines), "utf-8")
    with pytest.raises(LibraryError) as raised:
        library_files.load(path)
    problems = raised.value.problems
    assert any("line 2: not JSON" in p for p in problems)
    assert any("line 3: risk_id: required text" in p for p in problems)
    assert any("line 4: not a JSON object" in p for p in problems)
    assert any("'e1' appears more than once" in p for p in problems)
    assert all(p.startswith(str(path)) for p in problems)


def test_bad_csv_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="lacks the columns"):
        library_files.read_csv("id,pattern\nx,y\n")
    with pytest.raises(LibraryError, match="more cells"):
        library_files.read_csv("id,risk_id,kind,pattern,action,source,author\n"
                               "a,A.1.8,keyword,代开发票,block,s,alice,extra\n")
    with pytest.raises(LibraryError, match="not JSON"):
        library_files.read_csv("id,risk_id,kind,pattern,action,source,author,allow\n"
                               "a,A.1.8,keyword,代开发票,block,s,alice,[oops\n")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,risk_id\né,x\n".encode("latin-1"))
    with pytest.raises(LibraryError, match="not UTF-8"):
        library_files.load(latin1)
    with pytest.raises(LibraryError, match=r"expected a \.jsonl or \.csv"):
        library_files.load(tmp_path / "lib.txt")


def test_dates_and_versions_survive_the_file_form() -> None:
    e = entry("代开发票", effective="2026-01-01", expires="2027-01-01", version=3)
    again = Entry.from_dict(json.loads(json.dumps(e.to_dict())))
    assert again == e and again.effective == date(2026, 1, 1)
