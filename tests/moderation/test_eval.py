"""The evaluation harness: a callable target, an OpenAI-compatible endpoint on loopback
(HTTP 4xx = refusal), rates per risk, and the CLI sub-app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from synthguard.moderation.cli import app
from synthguard.moderation.engine import ModerationEngine
from synthguard.moderation.eval import is_refusal, load_bank, run_eval
from synthguard.moderation.library import LibraryError, make_release
from synthguard.moderation.library_files import starter
from tests.moderation.conftest import ON, FakeOpenAI, chat

BANK = load_bank()
REFUSE = {i.prompt for i in BANK if i.type == "should_refuse"}


def _engine() -> ModerationEngine:
    return ModerationEngine(make_release(starter(), "eval", on=ON))


def _model(prompt: str) -> str:
    if prompt in REFUSE:
        return "抱歉，我无法协助这个请求。"
    return "好的。" + prompt.rstrip("？?。") + "的回答如下：……"


def test_project_bank_covers_the_17_risks_and_every_item_type() -> None:
    assert {i.type for i in BANK} == {"should_refuse", "should_not_refuse", "generation"}
    refuse_risks = {i.risk_id for i in BANK if i.type == "should_refuse"}
    assert {f"A.1.{n}" for n in range(1, 9)} | {f"A.2.{n}" for n in range(1, 10)} <= (
        refuse_risks)


def test_refusal_phrases() -> None:
    assert is_refusal("抱歉，我不能提供这方面的帮助。")
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert not is_refusal("光合作用是植物利用光能合成有机物的过程。")
    assert not is_refusal("步骤如下：" + "很长的回答。" * 40 + "抱歉啰嗦了。")


def test_well_behaved_model_meets_every_target() -> None:
    report = run_eval(_model, BANK, engine=_engine())
    for kind in ("should_refuse", "should_not_refuse", "generation"):
        assert report.meets(kind), kind
    assert report.rate("should_refuse").rate == 1.0
    assert not report.bank_meets_tc260_size
    assert "shows the method, not compliance" in report.markdown()


def test_over_refusing_and_unsafe_models_miss_targets() -> None:
    prude = run_eval(lambda p: "对不起，我无法回答。", BANK, engine=_engine())
    assert prude.meets("should_refuse") and prude.meets("should_not_refuse") is False
    assert prude.rate("generation").hits == 0
    leaky = run_eval(lambda p: "没问题，本公司可代开发票。", BANK, engine=_engine())
    assert leaky.meets("should_refuse") is False and leaky.meets("generation") is False
    rows = {r["risk_id"]: r for r in leaky.as_dict()["per_risk"]}
    assert rows["A.1.4"]["should_refuse"] == {"n": 1, "hits": 0, "rate": 0.0}


def _gateway(body: dict[str, Any]) -> tuple[int, Any]:
    prompt = body["messages"][-1]["content"]
    if prompt in REFUSE:  # the gateway blocks the input itself
        return 400, {"error": {"code": "input_blocked", "message": "blocked by review"}}
    return 200, chat(_model(prompt))


def test_endpoint_target_counts_http_refusals(tmp_path: Path) -> None:
    with FakeOpenAI(_gateway) as server:
        report = run_eval(server.base_url, BANK, engine=_engine(), model="demo")
    assert report.meets("should_refuse") and report.meets("should_not_refuse")
    assert len(server.requests) == len(BANK)
    assert server.requests[0]["body"]["model"] == "demo"


def test_cli_eval_reports_and_exits_by_targets(tmp_path: Path) -> None:
    runner = CliRunner()
    with FakeOpenAI(_gateway) as server:
        ok = runner.invoke(app, ["eval", "--base-url", server.base_url, "--json"])
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.output)["overall"]["should_refuse"]["rate"] == 1.0
    with FakeOpenAI(lambda body: (200, chat("当然可以，代开发票找我。"))) as server:
        bad = runner.invoke(app, ["eval", "--base-url", server.base_url])
    assert bad.exit_code == 1 and "should_refuse" in bad.output


def test_cli_check_coverage_review(tmp_path: Path) -> None:
    runner = CliRunner()
    check = runner.invoke(app, ["check"])
    assert check.exit_code == 0 and "examples: all pass" in check.output
    cov = runner.invoke(app, ["coverage", "--on", "2026-06-01", "--json"])
    assert json.loads(cov.output)["meets_minimums"] is False
    review = runner.invoke(app, ["review", "代開發票"])
    assert json.loads(review.output)["decision"] == "block"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x"}\n', "utf-8")
    failed = runner.invoke(app, ["check", "--library", str(broken)])
    assert failed.exit_code == 1 and "risk_id: required text" in failed.output
    assert "Traceback" not in failed.output


def test_bad_bank_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text('{"id": "1", "type": "should_refuse", "risk_id": "A.9.9", "prompt": "x"}\n'
                    "oops\n", "utf-8")
    with pytest.raises(LibraryError) as raised:
        load_bank(path)
    assert len(raised.value.problems) == 2

