"""The `synthguard` command, run as a real process, as a user would."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

PRODUCER = "001191110102MACQD9K64010000"


def sg(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthguard", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("synthguard: error: ")
    return lines[0]


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".sgtmp" in p.name]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.new("RGB", (32, 24), (200, 10, 10)).save(src / "a.jpg")
    Image.new("RGBA", (16, 16), (0, 0, 255, 128)).save(src / "b.png")
    Image.new("RGB", (20, 20), (0, 255, 0)).save(src / "sub" / "c.webp")
    (src / "notes.txt").write_text("not an image")
    return src


def test_label_one_file_then_inspect(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "a-labeled.jpg"
    proc = sg("label", images / "a.jpg", "--producer", PRODUCER, "--produce-id", "img-1",
              "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "labeled" in proc.stdout
    proc = sg("inspect", out, "--json")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert {"path", "format", "verdict", "sites"} <= report.keys()
    assert report["verdict"] == "compliant" and report["format"] == "jpeg"
    [site] = report["sites"]
    assert {"carrier", "fields", "findings"} <= site.keys()
    assert site["fields"]["ProduceID"] == "img-1"
    assert site["fields"]["PropagateID"] == "img-1"
    assert site["fields"]["ContentPropagator"] == PRODUCER


def test_label_folder_recursive_mirrors_tree(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = sg("label", images, "-r", "-o", out, "--producer", PRODUCER,
              "--produce-id", "batch-{index}-{stem}", "-j", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(Path(r["output"]).relative_to(out).as_posix() for r in results) == [
        "a.jpg", "b.png", "sub/c.webp"]
    ids = {r["sites"][0]["fields"]["ProduceID"] for r in results}
    assert len(ids) == 3
    proc = sg("inspect", out, "-r")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": compliant") == 3


def test_inspect_unlabeled_exits_nonzero(images: Path) -> None:
    proc = sg("inspect", images / "a.jpg")
    assert proc.returncode == 1
    assert "not_found" in proc.stdout


def test_same_id_for_many_files_is_refused(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = sg("label", images, "-o", out, "--producer", PRODUCER, "--produce-id", "fixed")
    assert proc.returncode == 2
    assert "unique per content" in one_line_error(proc)
    assert not out.exists()


def test_output_mode_is_required(images: Path) -> None:
    proc = sg("label", images / "a.jpg", "--producer", PRODUCER, "--produce-id", "x")
    assert proc.returncode == 2
    assert "--in-place" in one_line_error(proc)


def test_bad_charset_refused_before_writing(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jpg"
    proc = sg("label", images / "a.jpg", "--producer", "某某科技", "--produce-id", "x", "-o", out)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "ContentProducer" in line and "U+67D0" in line
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\xff\xd8\xff\xe1\x00"])
def test_bad_file_one_line_no_output(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "broken.jpg"
    src.write_bytes(content)
    out = tmp_path / "out.jpg"
    proc = sg("label", src, "--producer", PRODUCER, "--produce-id", "x", "-o", out)
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert str(src) in line
    assert not out.exists() and no_temp_files(tmp_path)
    assert src.read_bytes() == content
    proc = sg("inspect", src, "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    # Text content is plain text whatever the name says; anything else is inconclusive.
    assert report["verdict"] == ("not_found" if content.startswith(b"garbage")
                                 else "inconclusive")
    if content.startswith(b"garbage"):
        assert report["format"] == "text"


def test_in_place_keeps_mode(images: Path) -> None:
    target = images / "b.png"
    os.chmod(target, 0o640)
    before = target.read_bytes()
    proc = sg("label", target, "--in-place", "--producer", PRODUCER, "--produce-id", "{sha256}")
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() != before
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert no_temp_files(images)


def test_missing_path(tmp_path: Path) -> None:
    proc = sg("inspect", tmp_path / "nope.png")
    assert proc.returncode == 2
    assert "no such file" in one_line_error(proc)


def test_demo_runs(tmp_path: Path) -> None:
    proc = sg("demo", "--workdir", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    assert "compliant" in proc.stdout and "noncompliant" in proc.stdout
    assert len(list((tmp_path / "demo" / "labeled").iterdir())) == 5


def test_plain_text_has_no_carrier(tmp_path: Path) -> None:
    txt = tmp_path / "answer.txt"
    txt.write_text("本内容由人工智能生成\n\n你好", encoding="utf-8")
    proc = sg("inspect", txt, "--json")
    report = json.loads(proc.stdout)
    assert report["verdict"] == "not_found" and report["format"] == "text"
    assert any(f["code"] == "no-metadata-carrier" for f in report["findings"])
    proc = sg("label", txt, "--producer", PRODUCER, "--produce-id", "x", "-o", tmp_path / "o.txt")
    assert proc.returncode == 1
    assert "only an explicit label" in one_line_error(proc)


def test_mark_image_and_text_folder(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (400, 300), (30, 30, 30)).save(src / "pic.png")
    (src / "answer.md").write_text("---\ntitle: t\n---\n# Hi\n", encoding="utf-8")
    (src / "reply.txt").write_text("你好", encoding="utf-8")
    out = tmp_path / "out"
    proc = sg("mark", src, "-o", out, "--producer", PRODUCER, "--produce-id", "m-{stem}",
              "--json")
    assert proc.returncode == 0, proc.stderr
    results = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["pic.png"]["kind"] == "image"
    assert results["answer.md"]["kind"] == "text" and results["answer.md"]["implicit"]
    assert (out / "reply.txt").read_text(encoding="utf-8").startswith("本内容由人工智能生成")
    md = (out / "answer.md").read_text(encoding="utf-8")
    assert md.startswith("---\n") and "> 本内容由人工智能生成" in md
    for name in ("pic.png", "answer.md"):
        proc = sg("inspect", out / name, "--json")
        assert json.loads(proc.stdout)["verdict"] == "compliant", proc.stdout


def test_mark_needs_label_fields_or_no_implicit(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    Image.new("RGB", (200, 200)).save(img)
    proc = sg("mark", img, "-o", tmp_path / "b.png")
    assert proc.returncode == 2 and "--no-implicit" in one_line_error(proc)
    proc = sg("mark", img, "-o", tmp_path / "b.png", "--no-implicit", "--text", "AI")
    assert proc.returncode == 2 and "generation element" in one_line_error(proc)
    proc = sg("mark", img, "-o", tmp_path / "b.png", "--no-implicit", "--position", "top-left")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(sg("inspect", tmp_path / "b.png", "--json").stdout)["verdict"] == (
        "not_found")


def test_mark_unsupported_and_tiny(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    proc = sg("mark", tiny, "-o", tmp_path / "o.png", "--no-implicit")
    assert proc.returncode == 1 and "too small" in one_line_error(proc)
    assert not (tmp_path / "o.png").exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("name,content", [
    ("data.json", '{"a": 1}'), ("notes.yaml", "---\na: 1\n"), ("page.html", "<p>x</p>")])
def test_text_formats_are_not_markdown(tmp_path: Path, name: str, content: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    proc = sg("label", src, "--producer", PRODUCER, "--produce-id", "x", "-o", tmp_path / "o")
    assert proc.returncode == 1 and "only an explicit label" in one_line_error(proc)
    assert src.read_text(encoding="utf-8") == content and not (tmp_path / "o").exists()
