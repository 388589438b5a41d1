"""The moderation engine as the gateway's default reviewer, through a running gateway with
the official openai client (SQLite and PostgreSQL): starter-library keywords block inputs
and end streams, "review" entries pass and queue the text with the record id, and the
library's own benign look-alikes pass untouched."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from synthguard.accounts import canonical_digest
from synthguard.config import Config, ConfigError
from synthguard.explicit import DEFAULT_ZH
from synthguard.gateway.backends.demo import demo_image
from synthguard.moderation import phash
from synthguard.moderation.gateway import load_engine
from synthguard.moderation.library import LibraryError
from synthguard.moderation.library_files import starter
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database
from tests.gateway.conftest import BLOCKED_WORD, MODEL, Gateway, make_config, run_gateway

# starter-010 (A.1.8, block): 代开发票. Spelled out with hyphens the input only matches
# in the loose view, which routes to review; the demo model then writes the word itself.
INVOICE_WORD = "代开发票"
SPELLED_INVOICE = "demo:spell:" + "-".join(INVOICE_WORD)


def _chat(gateway: Gateway, key: str, text: str) -> openai.types.chat.ChatCompletion:
    return gateway.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}])


def test_starter_keyword_in_input_is_blocked_with_its_entry(gateway: Gateway) -> None:
    user, key = gateway.key()
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(gateway, key, f"本公司可{INVOICE_WORD}，量大从优")
    assert caught.value.code == "content_blocked" and caught.value.param == "messages"
    record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
    assert record.status == "blocked_input"
    review = record.input_review
    assert review is not None and review["decision"] == "blocked"
    assert review["rule_ids"] == ["starter-010"] and review["category"] == "A.1.8"
    assert review["reviewer"] == "rules+moderation"
    # The engine's automatic block is a violation of the user; nothing waits for people.
    store = ModerationStore(gateway.db)
    assert store.violations(user) == 1 and store.items() == []


def test_configured_rule_still_blocks_before_the_engine(gateway: Gateway) -> None:
    user, key = gateway.key()
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(gateway, key, f"about {BLOCKED_WORD}")
    record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
    assert record.input_review is not None and record.input_review["rule_ids"] == ["T-001"]
    assert ModerationStore(gateway.db).violations(user) == 0  # the engine was not asked


def test_keyword_written_mid_stream_ends_the_stream(gateway: Gateway) -> None:
    user, key = gateway.key()
    received: list[str] = []
    with gateway.client(key).chat.completions.with_streaming_response.create(
            model=MODEL, messages=[{"role": "user", "content": SPELLED_INVOICE}],
            stream=True) as response:
        record_id = response.headers["x-synthguard-record-id"]
        with pytest.raises(openai.APIError) as caught:
            for chunk in response.parse():
                received.append(chunk.choices[0].delta.content or "")
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "output_blocked"
    text = "".join(received)
    assert text.startswith(DEFAULT_ZH) and len(received) >= 2  # notice and first sentence
    assert INVOICE_WORD not in text and "代" not in text

    record = gateway.record(record_id)
    review = record.output_review
    assert record.status == "blocked_output" and review is not None
    assert review["decision"] == "blocked" and review["complete"] is False
    assert review["rule_ids"] == ["starter-010"] and review["category"] == "A.1.8"
    assert review["windows_reviewed"] == review["windows_released"] + 1
    assert record.output_digest == canonical_digest(text)
    store = ModerationStore(gateway.db)
    assert store.violations(user) == 1  # the blocked output
    # The spelled-out input needed loose matching: let through, and queued for people.
    [item] = store.items()
    assert (item.stage, item.record_id, item.state) == ("input", record_id, "open")
    assert item.review["matches"][0]["view"] == "loose"


def test_review_entry_passes_and_is_queued_with_the_record(gateway: Gateway) -> None:
    user, key = gateway.key()
    raw = gateway.client(key).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "日你大爷的"}])
    record_id = raw.headers["x-synthguard-record-id"]
    assert raw.parse().choices[0].message.content
    record = gateway.record(record_id)
    assert record.status == "ok" and record.input_review is not None
    assert record.input_review["decision"] == "allowed"
    assert record.input_review["rule_ids"] == ["starter-023"]  # A.4.3, action review
    store = ModerationStore(gateway.db)
    [item] = store.items()
    assert (item.stage, item.user_id, item.record_id) == ("input", user, record_id)
    assert item.content == "日你大爷的" and item.state == "open"
    assert item.review["decision"] == "review"
    assert [e.action for e in store.events(item.id)] == ["queued"]
    assert store.violations(user) == 0


def test_benign_look_alikes_pass(sqlite_gateway: Gateway) -> None:
    """Every must-not-match example of the starter library (生日快乐, 虹桥火车站 ...) goes
    through as a prompt: no block, nothing queued."""
    _, key = sqlite_gateway.key()
    examples = [x for e in starter() if e.kind != "image_hash" for x in e.must_not_match]
    assert len(examples) >= 25
    for example in examples:
        assert _chat(sqlite_gateway, key, example).choices[0].message.content
    records = sqlite_gateway.all_records()
    assert [r.status for r in records] == ["ok"] * len(examples)
    assert all(r.input_review and r.input_review["rule_ids"] == [] for r in records)
    assert ModerationStore(sqlite_gateway.db).items() == []


def test_library_from_config(sqlite_database: Database, tmp_path: Path) -> None:
    library = tmp_path / "library.jsonl"
    library.write_text(
        '{"id": "own-1", "risk_id": "A.3.2", "kind": "keyword", "pattern": "rivers", '
        '"action": "block", "source": "test", "author": "a", "reviewer": "b", '
        '"status": "active"}\n', "utf-8")
    config: Config = make_config(moderation_library=library)
    for gateway in run_gateway(sqlite_database, config):
        _, key = gateway.key()
        with pytest.raises(openai.BadRequestError) as caught:
            _chat(gateway, key, "Tell me about rivers.")
        record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
        assert record.input_review is not None
        assert record.input_review["rule_ids"] == ["own-1"]
        # The starter library is not loaded beside it.
        assert _chat(gateway, key, f"本公司可{INVOICE_WORD}").choices[0].message.content


def test_moderation_library_setting(tmp_path: Path) -> None:
    env = {"SYNTHGUARD_SECRET": "ab" * 32, "SYNTHGUARD_DEMO": "true"}
    assert Config.load(None, env).moderation_library is None
    toml = tmp_path / "gateway.toml"
    toml.write_text('moderation_library = "lib/own.csv"\n', "utf-8")
    assert Config.load(toml, env).moderation_library == Path("lib/own.csv")
    overridden = Config.load(toml, {**env, "SYNTHGUARD_MODERATION_LIBRARY": "x.jsonl"})
    assert overridden.moderation_library == Path("x.jsonl")
    with pytest.raises(ConfigError, match=r"jsonl or \.csv"):
        Config.load(None, {**env, "SYNTHGUARD_MODERATION_LIBRARY": "library.txt"})
    with pytest.raises(ConfigError, match="cannot read"):
        load_engine(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", "utf-8")
    with pytest.raises(LibraryError, match="line 1"):
        load_engine(broken)


def _image_library(path: Path, entries: list[tuple[str, str, str]]) -> Path:
    """A library of image-hash entries (id, hash, action) in the documented JSONL form."""
    path.write_text("".join(
        f'{{"id": "{entry_id}", "risk_id": "A.3.1", "kind": "image_hash", '
        f'"pattern": "{pattern}", "action": "{action}", "source": "test", "author": "a", '
        f'"reviewer": "b", "status": "active", "must_match": ["{pattern}"]}}\n'
        for entry_id, pattern, action in entries), "utf-8")
    return path


def _demo_hash(prompt: str) -> str:
    return phash.to_hex(phash.phash(phash.load(demo_image(prompt, 256, 256, 0))))


def test_generated_images_are_reviewed_against_the_image_hashes(
        sqlite_database: Database, tmp_path: Path) -> None:
    """A generated image whose perceptual hash is a "block" entry is withheld before it
    is labeled or sent; one on a "review" entry is released and queued with its record;
    others pass, and every record says the image was reviewed."""
    blocked, queued = "a poster we must not release", "a poster for people to check"
    library = _image_library(tmp_path / "images.jsonl", [
        ("img-block", _demo_hash(blocked), "block"), ("img-review", _demo_hash(queued),
                                                      "review")])
    for gateway in run_gateway(sqlite_database, make_config(moderation_library=library)):
        user, key = gateway.key()
        client = gateway.client(key)
        with pytest.raises(openai.BadRequestError) as caught:
            client.images.generate(model=MODEL, prompt=blocked, size="256x256")
        assert caught.value.code == "output_blocked"
        record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
        assert record.status == "blocked_output" and record.output_review is not None
        assert record.output_review["decision"] == "blocked"
        assert record.output_review["rule_ids"] == ["img-block"]
        assert record.labels is None  # nothing was labeled, nothing released
        assert ModerationStore(gateway.db).violations(user) == 1

        raw = client.images.with_raw_response.generate(model=MODEL, prompt=queued,
                                                       size="256x256")
        assert raw.parse().data[0].b64_json
        record_id = raw.headers["x-synthguard-record-id"]
        review = gateway.record(record_id).output_review
        assert review is not None and review["reviewed"] and review["decision"] == "allowed"
        assert review["rule_ids"] == ["img-review"]
        [item] = ModerationStore(gateway.db).items()
        assert item.record_id == record_id and item.content.startswith("[image output, sha256 ")

        other = client.images.with_raw_response.generate(model=MODEL, prompt="a calm lake",
                                                         size="256x256")
        review = gateway.record(other.headers["x-synthguard-record-id"]).output_review
        assert review == {"reviewed": True, "reviewer": "rules+moderation", "images": 1,
                          "decision": "allowed", "allowed": True, "rule_ids": []}


def test_images_are_not_reviewed_without_image_entries(sqlite_database: Database,
                                                       tmp_path: Path) -> None:
    library = tmp_path / "words.jsonl"
    library.write_text(
        '{"id": "own-1", "risk_id": "A.3.2", "kind": "keyword", "pattern": "rivers", '
        '"action": "block", "source": "test", "author": "a", "reviewer": "b", '
        '"status": "active"}\n', "utf-8")
    for gateway in run_gateway(sqlite_database, make_config(moderation_library=library)):
        _, key = gateway.key()
        raw = gateway.client(key).images.with_raw_response.generate(
            model=MODEL, prompt="a calm lake", size="256x256")
        review = gateway.record(raw.headers["x-synthguard-record-id"]).output_review
        assert review is not None and review["reviewed"] is False
