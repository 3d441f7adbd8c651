"""The optional LLM judge, against a real chat-completions server on 127.0.0.1 (tests/judgeserver.py).

What is checked: only replies the rules cannot read reach the judge; its verdict is used for those
and never for a reply the rules read; the cache prevents a second request (also from a new
process's judge); a failing or malformed judge (HTTP 500, 401, garbage, not JSON, timeouts) leaves
the reply unreadable and is not cached; the API key reaches the server but never a log, a record,
the cache or a results file; without the variables nothing is asked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judgeserver import JudgeServer

from rsmmvp_tasks import UsageError, extract_choice
from rsmmvp_tasks.evaluation.judge import (
    NO_CHOICE,
    PROMPT_VERSION,
    Judge,
    JudgeConfig,
    disabled,
    get_judge,
    judge_fields,
    judge_messages,
    parse_verdict,
    summarize,
)

KEY = "sk-test-SECRET-0123456789abcdef"
OPTIONS = ["Yes", "No"]
QUESTION = "Is there a bridge over the river?"


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as s:
        yield s


def make_judge(server: JudgeServer, tmp_path: Path, **overrides: Any) -> Judge:
    settings: dict[str, Any] = dict(base_url=server.base_url, model="judge-model", api_key=KEY, timeout=5.0,
                                    retries=2, concurrency=2, cache_dir=tmp_path / "cache" / "judge")
    settings.update(overrides)
    return Judge(JudgeConfig(**settings))


def cache_text(tmp_path: Path) -> str:
    return "".join(p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())


# ---- the verdict and the prompt -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("A", "A"), (" b ", "B"), ("B.", "B"), ("**A**", "A"), ("(B)", "B"), ("'A'", "A"), ("none", NO_CHOICE),
     ("None.", NO_CHOICE), ("<think>The reply says yes.</think>A", "A"),
     ("C", None), ("A or B", None), ("The answer is A", None), ("", None), (None, None), ("AB", None),
     ("Nonetheless", None)],
)
def test_parse_verdict_accepts_one_letter_or_none_only(text: Any, expected: str | None) -> None:
    assert parse_verdict(text, 2) == expected


def test_judge_sees_question_options_and_reply() -> None:
    messages = judge_messages(QUESTION, OPTIONS, "I would say the first one")
    user = messages[-1]["content"]
    assert QUESTION in user and "A. Yes\nB. No" in user and "I would say the first one" in user
    assert "A, B, none" in user
    long = judge_messages(QUESTION, OPTIONS, "x" * 50_000 + " FINAL")[-1]["content"]
    assert len(long) < 20_000 and "FINAL" in long  # the end of a long reply is kept


# ---- configuration --------------------------------------------------------------------------


def test_config_from_environment(tmp_path: Path) -> None:
    assert JudgeConfig.from_env({}) is None
    env = {"RSMMVP_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "RSMMVP_JUDGE_MODEL": "m", "OPENAI_API_KEY": KEY,
           "RSMMVP_CACHE": str(tmp_path), "RSMMVP_JUDGE_RETRIES": "5"}
    config = JudgeConfig.from_env(env)
    assert config is not None and config.api_key == KEY and config.retries == 5
    assert config.endpoint == "http://127.0.0.1:9/v1/chat/completions"
    assert KEY not in repr(config) and KEY not in repr(Judge(config))
    assert JudgeConfig.from_env({**env, "RSMMVP_JUDGE_API_KEY": "other"}).api_key == "other"  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="RSMMVP_JUDGE_MODEL is not"):
        JudgeConfig.from_env({"RSMMVP_JUDGE_BASE_URL": "http://x/v1"})
    with pytest.raises(UsageError, match="RSMMVP_JUDGE_BASE_URL is not"):
        JudgeConfig.from_env({"RSMMVP_JUDGE_MODEL": "m"})
    with pytest.raises(UsageError, match="RSMMVP_JUDGE_TIMEOUT='soon' is not a number"):
        JudgeConfig.from_env({**env, "RSMMVP_JUDGE_TIMEOUT": "soon"})
    with pytest.raises(UsageError, match="not an http"):
        JudgeConfig.from_env({**env, "RSMMVP_JUDGE_BASE_URL": "127.0.0.1:8000"})


def test_without_the_variables_nothing_is_asked(server: JudgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RSMMVP_JUDGE_BASE_URL", "RSMMVP_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert get_judge() is None
    pred, fields = judge_fields(QUESTION, OPTIONS, "I cannot tell", None)
    assert (pred, fields) == (None, {})
    assert server.requests == []


# ---- asking ---------------------------------------------------------------------------------


def test_only_unreadable_replies_reach_the_judge_and_the_rules_win(server: JudgeServer, tmp_path: Path) -> None:
    server.verdicts = [("bridge", "A"), ("look", "B")]
    judge = make_judge(server, tmp_path)
    replies = ["B", "The answer is (A).", "I believe the bridge would be there", "Hmm, look closer", "no idea"]
    results = []
    for reply in replies:
        rule = extract_choice(reply, OPTIONS)
        results.append(judge_fields(QUESTION, OPTIONS, reply, rule, judge))
    asked = [JudgeServer.judged_reply(r["body"]) for r in server.requests]
    assert asked == ["I believe the bridge would be there", "Hmm, look closer", "no idea"]
    assert [pred for pred, _ in results] == ["B", "A", "A", "B", None]
    assert results[0][1] == {"pred_rules": "B", "judge_model": "judge-model", "judge_prompt": PROMPT_VERSION,
                             "judge_status": "not_needed", "pred_judge": None}
    assert results[2][1] == {"pred_rules": None, "judge_model": "judge-model", "judge_prompt": PROMPT_VERSION,
                             "judge_status": "answered", "pred_judge": "A"}
    assert results[4][1]["judge_status"] == "none"
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "judge-model" and request["body"]["temperature"] == 0
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"  # the key goes to the server, nowhere else

    summary = summarize([{"index": i, "pred": pred, **fields} for i, (pred, fields) in enumerate(results)])
    assert summary == {"model": "judge-model", "prompt_version": PROMPT_VERSION, "active": True, "judged": 3,
                       "answered": 2, "none": 1, "unreadable": 0, "failed": 0,
                       "unreadable_rate_before": 3 / 5, "unreadable_rate_after": 1 / 5}
    assert summarize([{"index": 1, "pred": "A"}]) is None


def test_the_cache_prevents_a_second_request_also_in_a_new_process(server: JudgeServer, tmp_path: Path) -> None:
    server.default = "B"
    judge = make_judge(server, tmp_path)
    first = judge.judge(QUESTION, OPTIONS, "probably the second")
    again = judge.judge(QUESTION, OPTIONS, "probably the second")
    fresh = make_judge(server, tmp_path).judge(QUESTION, OPTIONS, "probably the second")  # as a rerun would
    assert (first.pred, first.cached) == ("B", False)
    assert (again.pred, again.cached) == ("B", True) and (fresh.pred, fresh.cached) == ("B", True)
    assert len(server.requests) == 1
    # a different judge model, reply, question or option list is a different question to pay for
    make_judge(server, tmp_path, model="other-model").judge(QUESTION, OPTIONS, "probably the second")
    judge.judge(QUESTION, ["No", "Yes"], "probably the second")
    judge.judge(QUESTION, OPTIONS, "probably the second!")
    assert len(server.requests) == 4
    assert KEY not in cache_text(tmp_path)


def test_failing_judge_leaves_the_reply_unreadable_and_is_asked_again_later(
    server: JudgeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.mode, server.status = "error", 500
    judge = make_judge(server, tmp_path, retries=2)
    with caplog.at_level(logging.WARNING):
        pred, fields = judge_fields(QUESTION, OPTIONS, "hard to say", None, judge)
    assert (pred, fields["judge_status"], fields["pred_judge"]) == (None, "failed", None)
    assert len(server.requests) == 3  # one try and two retries
    assert "no verdict" in caplog.text and "HTTP 500" in caplog.text
    server.mode, server.default = "rules", "A"  # the server recovers: nothing failed was cached
    assert judge.judge(QUESTION, OPTIONS, "hard to say").pred == "A"
    assert len(server.requests) == 4


def test_retries_ride_out_a_server_that_fails_at_first(server: JudgeServer, tmp_path: Path) -> None:
    server.fail_first, server.default = 2, "B"
    outcome = make_judge(server, tmp_path, retries=2).judge(QUESTION, OPTIONS, "the latter")
    assert (outcome.pred, outcome.status) == ("B", "answered")
    assert len(server.requests) == 3


@pytest.mark.parametrize("mode", ["garbage", "not_json", "no_content"])
def test_malformed_answers_leave_the_reply_unreadable(server: JudgeServer, tmp_path: Path, mode: str) -> None:
    if mode == "garbage":
        server.default = "I think the reply means A, but maybe B"
    else:
        server.mode = mode
    judge = make_judge(server, tmp_path)
    outcome = judge.judge(QUESTION, OPTIONS, "who knows")
    assert outcome.pred is None and outcome.status == ("unreadable" if mode == "garbage" else "failed")
    judge.judge(QUESTION, OPTIONS, "who knows")
    assert len(server.requests) == 2  # not cached, not retried (the server answered, badly)
    assert cache_text(tmp_path) == ""


def test_timeouts_leave_the_reply_unreadable(server: JudgeServer, tmp_path: Path) -> None:
    server.mode, server.delay = "slow", 1.0
    outcome = make_judge(server, tmp_path, timeout=0.2, retries=1).judge(QUESTION, OPTIONS, "slowly: yes?")
    assert (outcome.pred, outcome.status) == (None, "failed")
    assert len(server.requests) == 2


def test_unauthorised_turns_the_judge_off_and_the_key_is_never_shown(
    server: JudgeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    server.mode, server.status = "error", 401
    server.error_body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}. Bearer {KEY}"}})
    judge = make_judge(server, tmp_path)
    with caplog.at_level(logging.DEBUG):
        outcomes = [judge.judge(QUESTION, OPTIONS, reply) for reply in ("maybe", "perhaps", "unsure")]
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert len(server.requests) == 1  # no retry, and nothing more once off
    assert "HTTP 401" in caplog.text and "judge is off" in caplog.text
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, cache_text(tmp_path)):
        assert KEY not in text and "SECRET" not in text


@pytest.mark.parametrize("status", [403, 404])
def test_forbidden_or_not_found_also_turns_the_judge_off(server: JudgeServer, tmp_path: Path, status: int) -> None:
    server.mode, server.status = "error", status
    judge = make_judge(server, tmp_path)
    assert [judge.judge(QUESTION, OPTIONS, r).status for r in ("maybe", "perhaps")] == ["failed", "failed"]
    assert len(server.requests) == 1  # the openai client does not retry these, and the judge is off after one


def test_reasoning_models_get_max_completion_tokens(server: JudgeServer, tmp_path: Path) -> None:
    """As lmms-eval's judge provider: gpt-5*/o1/o3/o4* by name; any other model when its API says so (HTTP 400)."""
    server.mode, server.default = "reasoning", "B"
    by_name = make_judge(server, tmp_path, model="o3-mini")
    assert by_name.judge(QUESTION, OPTIONS, "the second, I guess").pred == "B"
    body = server.requests[-1]["body"]
    assert body["max_completion_tokens"] == 16 and "max_tokens" not in body and "temperature" not in body
    assert len(server.requests) == 1
    unnamed = make_judge(server, tmp_path, model="house-reasoner")
    assert unnamed.judge(QUESTION, OPTIONS, "the first, I guess").pred == "B"
    assert [("max_tokens" in r["body"], "max_completion_tokens" in r["body"]) for r in server.requests[1:]] == [
        (True, False), (False, True)]  # refused once, then asked its way ...
    assert unnamed.judge(QUESTION, OPTIONS, "no clue").pred == "B"
    assert len(server.requests) == 4  # ... and from then on directly
    plain = make_judge(server, tmp_path, model="plain-model", max_tokens=0)  # no limit: only the temperature is refused
    assert plain.judge(QUESTION, OPTIONS, "hmm, the first?").pred == "B"
    assert "temperature" not in server.requests[-1]["body"]


def test_a_judge_without_key_sends_no_authorization(server: JudgeServer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # read by from_env only, never by the client behind our back
    server.default = "A"
    judge = make_judge(server, tmp_path, api_key=None, base_url=server.base_url + "/chat/completions")
    assert judge.judge(QUESTION, OPTIONS, "the first one?").pred == "A"
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions" and "Authorization" not in request["headers"]


def test_a_base_url_with_a_password_is_refused_without_showing_it() -> None:
    with pytest.raises(UsageError, match="user name or password") as caught:
        JudgeConfig(base_url="http://alice:hunter2pw@127.0.0.1:8000/v1", model="m")
    assert "hunter2pw" not in str(caught.value) and "alice" not in str(caught.value)


def test_the_summary_says_which_judge_and_whether_it_was_active() -> None:
    def record(index: int, status: str, **extra: Any) -> dict[str, Any]:
        return {"index": index, "pred": None, "pred_rules": None, "judge_model": "m", "judge_status": status,
                "pred_judge": None, **extra}

    off = summarize([record(0, "failed", judge_prompt=PROMPT_VERSION), record(1, "failed")])
    assert off is not None and off["active"] is False and (off["model"], off["prompt_version"]) == ("m", PROMPT_VERSION)
    needed_none = summarize([{**record(0, "not_needed"), "pred": "A", "pred_rules": "A"}])
    assert needed_none is not None and needed_none["active"] is False and needed_none["judged"] == 0
    mixed = summarize([record(0, "failed"), record(1, "unreadable", judge_prompt="0")])
    assert mixed is not None and mixed["active"] is True and mixed["prompt_version"] == ["0", PROMPT_VERSION]


def test_concurrency_limit(server: JudgeServer, tmp_path: Path) -> None:
    server.mode, server.delay, server.default = "slow", 0.05, "A"
    judge = make_judge(server, tmp_path, concurrency=2)
    outcomes = judge.judge_many([(QUESTION, OPTIONS, f"reply {i}") for i in range(8)])
    assert [o.pred for o in outcomes] == ["A"] * 8
    assert len(server.requests) == 8
    assert server.max_in_flight <= 2


def test_the_same_reply_asked_at_once_is_sent_once(server: JudgeServer, tmp_path: Path) -> None:
    server.mode, server.delay, server.default = "slow", 0.2, "B"
    judge = make_judge(server, tmp_path, concurrency=4, cache_dir=None)  # no cache folder: memory only
    outcomes = judge.judge_many([(QUESTION, OPTIONS, "same reply")] * 4 + [(QUESTION, OPTIONS, "another")])
    assert [o.pred for o in outcomes] == ["B"] * 5
    assert len(server.requests) == 2


def test_get_judge_reads_the_environment_once_per_configuration(
    server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RSMMVP_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "env-model")
    monkeypatch.setenv("RSMMVP_JUDGE_API_KEY", KEY)
    monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
    server.default = "A"
    judge = get_judge()
    assert judge is not None and judge is get_judge()
    assert judge.config.cache_dir == tmp_path / "cache" / "judge"
    pred, fields = judge_fields(QUESTION, OPTIONS, "the former", None)
    assert pred == "A" and fields["judge_model"] == "env-model"
    assert len(list((tmp_path / "cache" / "judge").rglob("*.json"))) == 1
    with disabled():  # e.g. a person's "can't tell" in rsmmvp human score
        assert get_judge() is None
        assert judge_fields(QUESTION, OPTIONS, "the latter", None) == (None, {})
    assert get_judge() is judge and len(server.requests) == 1


def test_a_local_judge_is_reached_past_a_proxy_setting(
    server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    server.default = "B"
    assert make_judge(server, tmp_path).judge(QUESTION, OPTIONS, "the other one?").pred == "B"


# ---- in the task ----------------------------------------------------------------------------


def _doc(index: int, answer: str) -> dict[str, Any]:
    return {"index": index, "pair_id": f"p{index // 2}", "question": QUESTION, "options": OPTIONS, "answer": answer,
            "pattern": "presence", "pair_size": 2, "dataset_fingerprint": "f" * 64}


def _judge_env(monkeypatch: pytest.MonkeyPatch, server: JudgeServer, tmp_path: Path) -> None:
    monkeypatch.setenv("RSMMVP_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "judge-model")
    monkeypatch.setenv("RSMMVP_JUDGE_API_KEY", KEY)
    monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))


def test_task_records_keep_both_readings_and_details_report_the_judge(
    server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rsmmvp_tasks.evaluation import task
    from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, read_details

    docs = [_doc(0, "A"), _doc(1, "B"), _doc(2, "A"), _doc(3, "B")]
    replies = ["A", "I believe the bridge is there", "no idea", "B"]
    plain = task.process_results(docs[1], [replies[1]])["question_accuracy"]
    assert set(plain) == {"index", "pair_id", "pattern", "pair_size", "answer", "pred", "correct"}  # no judge: as before
    assert server.requests == []

    _judge_env(monkeypatch, server, tmp_path)
    server.verdicts = [("bridge", "B")]
    outs = [task.process_results(d, [r]) for d, r in zip(docs, replies, strict=True)]
    records = [o["question_accuracy"] for o in outs]
    assert [JudgeServer.judged_reply(r["body"]) for r in server.requests] == replies[1:3]
    assert [(r["pred_rules"], r["pred_judge"], r["pred"], r["judge_status"]) for r in records] == [
        ("A", None, "A", "not_needed"), (None, "B", "B", "answered"), (None, None, None, "none"),
        ("B", None, "B", "not_needed")]
    assert records[1]["correct"] is True
    details = task.aggregate_details([o[DETAILS_METRIC] for o in outs])
    assert details["judge"]["judged"] == 2 and details["judge"]["unreadable_rate_before"] == 0.5
    assert details["unreadable_rate"] == details["judge"]["unreadable_rate_after"] == 0.25
    assert read_details({"results": {"t": {f"{DETAILS_METRIC},none": details}}}, "t")["judge"]["model"] == "judge-model"
    assert KEY not in json.dumps([records, details])


@pytest.mark.e2e
def test_lmms_eval_with_the_judge_variables_reports_judged_replies(server: JudgeServer, tmp_path: Path) -> None:
    from conftest import run_lmms_eval

    from rsmmvp_tasks.evaluation.results import read_details

    server.default = "A"  # the judge reads every reply as option A
    env = {"RSMMVP_JUDGE_BASE_URL": server.base_url, "RSMMVP_JUDGE_MODEL": "judge-model", "RSMMVP_JUDGE_API_KEY": KEY,
           "RSMMVP_CACHE": str(tmp_path / "cache")}
    args = ["--model", "dummy", "--model_args", "response=I cannot tell from this picture", "--tasks", "rsmmvp_mini"]
    run = run_lmms_eval(args, tmp_path / "out", env_extra=env)
    details = read_details(run.results, "rsmmvp_mini") if run.results else None
    assert details is not None, run.output[-3000:]
    assert details["judge"] == {"model": "judge-model", "prompt_version": PROMPT_VERSION, "active": True,
                                "judged": 18, "answered": 18, "none": 0, "unreadable": 0,
                                "failed": 0, "unreadable_rate_before": 1.0, "unreadable_rate_after": 0.0}
    assert run.metrics("rsmmvp_mini")["question_accuracy"] == 0.5  # as if it had answered "A"
    assert len(server.requests) == 9  # the two questions of a pair share question, options and this reply
    assert "rsmmvp judge judge-model: 18" in run.output
    records = [line["question_accuracy"] for line in run.samples["rsmmvp_mini"]]
    assert all(r["pred_rules"] is None and r["pred_judge"] == "A" for r in records)
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()
                      and p.suffix in {".json", ".jsonl", ".log", ".txt"})
    assert KEY not in run.output and KEY not in written and "SECRET" not in written
    # a second run pays nothing: every verdict comes from the cache
    rerun = run_lmms_eval(args, tmp_path / "out2", env_extra=env)
    assert read_details(rerun.results, "rsmmvp_mini")["judge"]["judged"] == 18
    assert len(server.requests) == 9
