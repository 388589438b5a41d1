"""Config.load: TOML file, environment overrides, the secret, validation errors."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.config import (
    DEMO_MODEL,
    BackendRoute,
    Config,
    ConfigError,
    ReviewRuleSpec,
    decode_secret,
)
from synthguard.labels import provider_code
from synthguard.labels.aigc import parse_provider_code

SECRET_HEX = "ab" * 32
PRODUCER = provider_code("91110108MA01A0A003", service="1", model_code="0001")


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SYNTHGUARD_SECRET": SECRET_HEX, "SYNTHGUARD_PRODUCER_CODE": PRODUCER,
            "SYNTHGUARD_SECRET_FILE": str(tmp_path / "never-used"), **extra}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "synthguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults(tmp_path: Path) -> None:
    config = Config.load(None, env(tmp_path))
    assert config.database_url == "sqlite:///var/synthguard.db"
    assert config.secret == bytes.fromhex(SECRET_HEX)
    assert config.producer_code == PRODUCER
    assert (config.notice, config.notice_position) == ("本内容由人工智能生成", "start")
    assert (config.review_window_chars, config.block_consecutive, config.block_per_day) == (
        80, 3, 5)
    assert config.backends == {DEMO_MODEL: BackendRoute(kind="demo")}
    assert not (tmp_path / "never-used").exists()


def test_file_values_then_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
database_url = "sqlite:///from-file.db"
producer_code = "{PRODUCER}"
notice = "AI生成内容"
notice_position = "both"
review_window_chars = 120
block_consecutive = 4
block_per_day = 0

[backends."gpt-4o"]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "UPSTREAM_KEY"
upstream_model = "gpt-4o-2024-08-06"
timeout_s = 5
connect_retries = 0

[backends.local]
kind = "demo"

[[review_rules]]
id = "R-1"
category = "violence"
pattern = "炸弹|bomb"
regex = true
""")
    values = env(tmp_path, SYNTHGUARD_DATABASE_URL="sqlite:///from-env.db",
                 SYNTHGUARD_BLOCK_CONSECUTIVE="2", UPSTREAM_KEY="sk-upstream")
    del values["SYNTHGUARD_PRODUCER_CODE"]
    config = Config.load(path, values)
    assert config.database_url == "sqlite:///from-env.db"
    assert config.block_consecutive == 2 and config.block_per_day == 0
    assert config.notice == "AI生成内容" and config.notice_position == "both"
    assert config.review_window_chars == 120
    assert config.backends == {
        "gpt-4o": BackendRoute(kind="openai", base_url="http://127.0.0.1:9/v1",
                               api_key="sk-upstream", upstream_model="gpt-4o-2024-08-06",
                               timeout_s=5, connect_retries=0),
        "local": BackendRoute(kind="demo")}
    assert config.review_rules == (ReviewRuleSpec("R-1", "violence", "炸弹|bomb", True),)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "review_window_chars = 7\n")
    assert Config.load(None, env(tmp_path, SYNTHGUARD_CONFIG=str(path))).review_window_chars == 7


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    route = BackendRoute(kind="openai", base_url="http://x", api_key="sk-hidden")
    config = Config.load(None, env(tmp_path))
    assert "sk-hidden" not in repr(route)
    assert SECRET_HEX not in repr(config) and "secret=" not in repr(config)


def test_secret_file_is_created_once_private(tmp_path: Path) -> None:
    values = env(tmp_path, SYNTHGUARD_SECRET_FILE=str(tmp_path / "var" / "secret"))
    del values["SYNTHGUARD_SECRET"]
    first = Config.load(None, values).secret
    secret_file = tmp_path / "var" / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(first) == 32
    assert Config.load(None, values).secret == first
    assert [p.name for p in secret_file.parent.iterdir()] == ["secret"]  # no temp left over


def test_secret_forms(tmp_path: Path) -> None:
    raw = bytes(range(40))
    assert decode_secret(raw.hex(), "x") == raw
    assert decode_secret(base64.b64encode(raw).decode(), "x") == raw
    assert decode_secret(base64.urlsafe_b64encode(raw).decode().rstrip("="), "x") == raw
    with pytest.raises(ConfigError, match="16 bytes, need 32"):
        decode_secret("00" * 16, "SYNTHGUARD_SECRET")
    with pytest.raises(ConfigError, match="neither hex nor base64"):
        decode_secret("not a secret!", "SYNTHGUARD_SECRET")
    with pytest.raises(ConfigError, match="SYNTHGUARD_SECRET"):
        Config.load(None, env(tmp_path, SYNTHGUARD_SECRET="abcd"))


def test_producer_code_is_required_unless_demo(tmp_path: Path) -> None:
    values = env(tmp_path)
    del values["SYNTHGUARD_PRODUCER_CODE"]
    with pytest.raises(ConfigError, match="producer_code is not configured"):
        Config.load(None, values)
    assert Config.load(None, values, require_producer=False).producer_code == ""
    demo = Config.load(None, {**values, "SYNTHGUARD_DEMO": "1"})
    assert demo.demo and parse_provider_code(demo.producer_code).uscc == "91110108MA01A0A003"
    with pytest.raises(ConfigError, match="producer_code: must be 27"):
        Config.load(None, env(tmp_path, SYNTHGUARD_PRODUCER_CODE="ABC"))


@pytest.mark.parametrize("text, message", [
    ("database_url = \n", "not valid TOML"),
    ("databse_url = 'x'\n", "unknown setting 'databse_url'"),
    ("review_window_chars = '80'\n", "review_window_chars: expected a whole number"),
    ("review_window_chars = 0\n", "review_window_chars must be at least 1"),
    ("block_per_day = -1\n", "must be >= 0"),
    ("block_per_day = true\n", "block_per_day: expected a whole number"),
    ("notice = 'Generated'\n", "notice: .*lacks the AI element"),
    ("notice_position = 'middle'\n", "notice_position must be one of"),
    ("demo = 'maybe'\n", "demo: expected true or false"),
    ("backends = 3\n", "expected tables like \\[backends.NAME\\]"),
    ("[backends.x]\nkind = 'grpc'\n", "backends.x: backend kind 'grpc'"),
    ("[backends.x]\nkind = 'openai'\n", "backends.x: an openai backend needs base_url"),
    ("[backends.x]\nkind = 'openai'\nbase_url = 'http://h'\napi_key = 'sk'\n",
     "unknown setting 'api_key'"),
    ("[backends.x]\nkind = 'openai'\nbase_url = 'http://h'\napi_key_env = 'NOPE_KEY'\n",
     "NOPE_KEY \\(api_key_env\\) is not set"),
    ("[backends.x]\nkind = 'demo'\ntimeout_s = 0\n", "timeout_s must be > 0"),
    ("[[review_rules]]\nid = 'R'\npattern = '(unclosed'\nregex = true\n", "R: bad regex"),
    ("[[review_rules]]\nid = 'R'\n", "review_rules.pattern: expected a string"),
])
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Config.load(write(tmp_path, text), env(tmp_path))
    assert "\n" not in str(info.value)


def test_bad_environment_values_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SYNTHGUARD_BLOCK_PER_DAY: expected a whole number"):
        Config.load(None, env(tmp_path, SYNTHGUARD_BLOCK_PER_DAY="five"))
    with pytest.raises(ConfigError, match="cannot read config"):
        Config.load(tmp_path / "missing.toml", env(tmp_path))


@given(st.binary(min_size=32, max_size=96))
def test_any_long_enough_secret_round_trips_in_every_text_form(raw: bytes) -> None:
    for text in (raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert decode_secret(f" {text}\n", "x") == raw


@given(st.text(max_size=80))
def test_secret_text_never_fails_otherwise_than_with_config_error(text: str) -> None:
    try:
        assert len(decode_secret(text, "x")) >= 32
    except ConfigError:
        pass
