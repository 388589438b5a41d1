"""Markdown carrier (YAML front matter `AIGC`) and the plain-text carrier (no site).

PyYAML is the independent reader of the front matter we write; the body and every
other front matter line must come out byte for byte.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, decode
from synthguard.labels.carriers import markdown, text

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="it's-1")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="md-2",
                          propagator="PLATFORM42", propagate_id="p-77")
BODY = "# Report\n\nWritten with an assistant.\n\n---\n\nA thematic break above.\n"


def relabel(data: bytes, label: AIGCLabel = FIRST) -> bytes:
    out = io.BytesIO()
    markdown.write(io.BytesIO(data), out, label)
    return out.getvalue()


def front_matter(data: bytes) -> dict[str, object]:
    """Independent split: the text between the first two `---` lines, through PyYAML."""
    text_ = data.decode("utf-8-sig").replace("\r\n", "\n")
    assert text_.startswith("---\n")
    loaded = yaml.safe_load(text_[4:text_.index("\n---\n", 3)])
    assert isinstance(loaded, dict)
    return loaded


def labels(data: bytes) -> list[str]:
    return [s.raw for s in markdown.read(io.BytesIO(data))]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("bom", "eol"), [("", "\n"), ("", "\r\n"), ("\ufeff", "\n"),
                                          ("\ufeff", "\r\n")])
def test_front_matter_is_created_and_the_body_kept(bom: str, eol: str) -> None:
    original = (bom + BODY.replace("\n", eol)).encode()
    labelled = relabel(relabel(original, SECOND))
    assert labelled.startswith(f"{bom}---{eol}AIGC: '".encode())
    assert labelled.endswith(BODY.replace("\n", eol).encode())
    assert front_matter(labelled) == {"AIGC": FIRST.to_json()}
    assert labels(labelled) == [FIRST.to_json()]
    assert decode(labels(labelled)[0]).ok
    if eol == "\n":
        assert b"\r" not in labelled
    else:
        assert labelled.count(b"\n") == labelled.count(b"\r\n")


def test_existing_front_matter_keeps_every_other_byte() -> None:
    front = ("---\r\n# the editor's comment\r\ntitle: \"Quarterly: Q3\"   # trailing\r\n"
             "tags:\r\n- ai\r\n- report\r\n\r\nauthor: {name: Li, id: 7}\r\n---\r\n")
    original = (front + BODY).encode()
    labelled = relabel(original)
    entry = f"AIGC: '{FIRST.to_json().replace(chr(39), chr(39) * 2)}'\r\n"
    expected = front.replace("author: {name: Li, id: 7}\r\n---",
                             "author: {name: Li, id: 7}\r\n" + entry + "---")
    assert labelled == (expected + BODY).encode()
    assert front_matter(labelled) == {"title": "Quarterly: Q3", "tags": ["ai", "report"],
                                      "author": {"name": "Li", "id": 7},
                                      "AIGC": FIRST.to_json()}


def test_existing_label_is_rewritten_in_place_and_others_removed() -> None:
    original = (
        "---\ntitle: T\naigc_note: stale\nAIGC:\n  Label: AIGC\n  ContentProducer: x\n\n"
        "draft: true\nAIGC_copy: |\n  {\"Label\":\"1\"}\n...\n" + BODY).encode()
    found = markdown.read(io.BytesIO(original))
    assert [s.raw for s in found] == ["stale", '{"Label":"AIGC","ContentProducer":"x"}',
                                      '{"Label":"1"}\n']
    assert [f.code for f in found[0].findings] == ["nonstandard-key"]
    assert [f.code for f in found[1].findings] == ["yaml-mapping"]
    # The decoder reports the invalid `Label: AIGC` value the file carries.
    assert any(f.field == "Label" for f in decode(found[1].raw).findings)

    labelled = relabel(original)
    assert labelled.decode().startswith("---\ntitle: T\nAIGC: '")
    assert "\n\ndraft: true\n...\n" in labelled.decode()
    assert labelled.endswith(BODY.encode())
    assert labels(labelled) == [FIRST.to_json()]
    assert relabel(labelled) == labelled


def test_compact_sequence_value_is_replaced_whole() -> None:
    original = b"---\nAIGC:\n- a\n- b\nnext: 1\n---\nbody\n"
    assert labels(original) == ['["a", "b"]']
    labelled = relabel(original)
    assert front_matter(labelled) == {"AIGC": FIRST.to_json(), "next": 1}


def test_empty_front_matter_gets_the_key() -> None:
    assert front_matter(relabel(b"---\n---\nbody")) == {"AIGC": FIRST.to_json()}


def test_file_objects_work(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.md", tmp_path / "out.md"
    src.write_bytes(BODY.encode() * 5000)  # body larger than the bounded front-matter read
    with src.open("rb") as fin, dst.open("wb") as fout:
        markdown.write(fin, fout, FIRST)
    assert dst.read_bytes().endswith(src.read_bytes())
    with dst.open("rb") as fin:
        assert [s.raw for s in markdown.read(fin)] == [FIRST.to_json()]


@settings(max_examples=40, deadline=None)
@given(keys=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                            st.one_of(st.text(st.characters(blacklist_categories=("Cs",)),
                                              max_size=20),
                                      st.integers(), st.booleans()),
                            max_size=5),
       # Markdown files are UTF-8: lone surrogates cannot occur in them.
       body=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                    max_size=200),
       crlf=st.booleans())
def test_any_front_matter_round_trips(keys: dict[str, object], body: str, crlf: bool) -> None:
    keys.pop("aigc", None)
    eol = "\r\n" if crlf else "\n"
    front = yaml.safe_dump(keys, allow_unicode=True, default_flow_style=False) if keys else ""
    original = ("---" + eol + front.replace("\n", eol) + "---" + eol + body).encode()
    labelled = relabel(original)
    assert labelled.endswith(("---" + eol + body).encode())
    # Compared with what PyYAML reads from the original, which folds some characters.
    assert front_matter(labelled) == {**(yaml.safe_load(front) or {}), "AIGC": FIRST.to_json()}
    assert labels(labelled) == [FIRST.to_json()]


# --- reading -------------------------------------------------------------------------------


def test_no_front_matter_no_site() -> None:
    assert labels(BODY.encode()) == []
    assert labels(b"---\nnot closed, so a thematic break\n") == []


def test_non_mapping_front_matter_has_no_site_and_is_not_written() -> None:
    data = b"---\n- a\n- b\n---\nbody"
    assert labels(data) == []
    with pytest.raises(UnsupportedFormat, match="mapping"):
        relabel(data)


def test_flow_style_front_matter_is_not_spliced() -> None:
    data = b"---\n{AIGC: x, title: t}\n---\nbody"
    assert labels(data) == ["x"]
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        relabel(data)


def test_sniff() -> None:
    assert markdown.sniff(b"---\ntitle: x\n")
    assert markdown.sniff("\ufeff---\n".encode())
    assert markdown.sniff("# 标题\n".encode()[:5])  # cut inside a character is still text
    assert not markdown.sniff(b"\x89PNG\r\n\x1a\n")
    assert not markdown.sniff(b"")


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary" * 10, b"\xff\xfe#\x00 \x00h\x00",
                                  b"---\ntitle: \xc3\x28\n---\n"])
def test_binary_or_non_utf8_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        markdown.read(io.BytesIO(data))
    with pytest.raises(MalformedFile):
        relabel(data)


@pytest.mark.parametrize("front", ["title: [unclosed\n", "a: b: c\n",
                                   "x: !!python/object:os.system ls\n", "[" * 1200 + "\n"])
def test_invalid_or_hostile_yaml_is_malformed(front: str) -> None:
    data = f"---\n{front}---\nbody".encode()
    with pytest.raises(MalformedFile):
        markdown.read(io.BytesIO(data))


def test_unclosed_front_matter_beyond_the_limit_is_malformed() -> None:
    data = b"---\n" + b"key: value\n" * (markdown.MAX_FRONT_MATTER // 10)
    with pytest.raises(MalformedFile, match="not closed"):
        markdown.read(io.BytesIO(data))


def test_alias_bomb_is_read_and_written_without_expansion() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 12):
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    data = ("---\n" + "\n".join(levels) + "\nAIGC: {Label: '1', nested: *a11}\n---\n").encode()
    (site,) = markdown.read(io.BytesIO(data))
    assert json.loads(site.raw) == {"Label": "1", "nested": []}
    labelled = relabel(data)
    assert labels(labelled) == [FIRST.to_json()]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_raise_only_synthguard_errors(data: bytes) -> None:
    for candidate in (data, b"---\n" + data + b"\n---\n"):
        try:
            labelled = relabel(candidate)
        except SynthGuardError:
            continue
        assert labels(labelled) == [FIRST.to_json()]


# --- plain text ----------------------------------------------------------------------------


def test_text_has_no_site_and_refuses_to_write() -> None:
    assert text.WRITABLE is False
    assert text.read(io.BytesIO("纯文本，没有元数据。\n".encode())) == []
    assert text.read(io.BytesIO(b"")) == []
    with pytest.raises(UnsupportedFormat, match=r"GB 45438 §5\.1"):
        text.write(io.BytesIO(b"hello"), io.BytesIO(), FIRST)


def test_text_sniff_and_binary() -> None:
    assert text.sniff(b"plain words\r\n\tindented")
    assert not text.sniff(b"\x00\x00\x00\x18ftypmp42")
    assert not text.sniff(b"\xff\xd8\xff\xe0")
    with pytest.raises(UnsupportedFormat):
        text.read(io.BytesIO(b"\x00binary"))


# --- library API ---------------------------------------------------------------------------


def test_api_labels_markdown_and_refuses_text(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_bytes(BODY.encode())
    report = synthguard.label(note, producer=FIRST.content_producer, produce_id=FIRST.produce_id)
    assert (report.format, report.verdict) == ("markdown", "compliant")
    assert synthguard.inspect(note).label == FIRST
    assert note.read_bytes().endswith(BODY.encode())

    plain = tmp_path / "note.txt"
    plain.write_bytes(BODY.encode())  # same bytes: the extension picks the carrier
    inspected = synthguard.inspect(plain)
    assert (inspected.format, inspected.verdict) == ("text", "not_found")
    with pytest.raises(UnsupportedFormat, match=r"§5\.1"):
        synthguard.label(plain, producer=FIRST.content_producer, produce_id=FIRST.produce_id)
    assert plain.read_bytes() == BODY.encode()


def test_api_verdicts_for_markdown(tmp_path: Path) -> None:
    bad = tmp_path / "agent.md"
    bad.write_bytes(b"---\nAIGC:\n  Label: AIGC\n---\nbody\n")
    assert synthguard.inspect(bad).verdict == "noncompliant"
    broken = tmp_path / "broken.md"
    broken.write_bytes(b"---\ntitle: [unclosed\n---\nbody\n")
    assert synthguard.inspect(broken).verdict == "inconclusive"
