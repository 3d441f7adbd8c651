"""One secrets module: what counts as a secret, and every place that hides one uses it."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from rsmmvp_tasks import secrets
from rsmmvp_tasks.secrets import REDACTED, RedactingStream, drop_secret_args, is_secret_key, redact, scrub_url

FAKE_TOKEN = "hf_" + "FakeTokenForRedactionTest0123456789"
FAKE_KEY = "sk-" + "proj-abcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Evaluation tracker args: {'output_path': 'out', 'token': '%s'}" % FAKE_TOKEN,
         "Evaluation tracker args: {'output_path': 'out', 'token': '***'}"),
        ("push_results_to_hub=True,token=abc123,public_repo=False", "push_results_to_hub=True,token=***,public_repo=False"),
        ('{"hf_token": "secret-value", "max_new_tokens": 16}', '{"hf_token": "***", "max_new_tokens": 16}'),
        ("HF_TOKEN=%s rest" % FAKE_TOKEN, "HF_TOKEN=*** rest"),
        ("logged in with %s." % FAKE_TOKEN, "logged in with hf_***."),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ("api_key: sk-abcdefghijklmnopqrstuv", "api_key: ***"),
        ("OPENAI key %s" % FAKE_KEY, "OPENAI key sk-***"),
        ("{'token': None, 'password': ''}", "{'token': None, 'password': ''}"),  # nothing secret to hide
        ("max_new_tokens=16, tokens: 5, hf_hub_log_args, hf_transfer, tokenizer=x",
         "max_new_tokens=16, tokens: 5, hf_hub_log_args, hf_transfer, tokenizer=x"),
        # siblings the three old implementations missed
        ("pretrained=m,secret_key=abc,X-Api-Key: abcd1234", "pretrained=m,secret_key=***,X-Api-Key: ***"),
        ("client_secret=s3cr3t db_password='p w'", "client_secret=*** db_password='***'"),
        ("apiKey=abc123 hfToken=zz", "apiKey=*** hfToken=***"),
        ("RSMMVP_JUDGE_BASE_URL=http://user:pa55@judge.lan:8000/v1 is down",
         "RSMMVP_JUDGE_BASE_URL=http://***@judge.lan:8000/v1 is down"),
        ("clone https://%s@github.com/o/r" % ("ghp_" + "A" * 36), "clone https://***@github.com/o/r"),
        ("GITHUB_TOKEN is %s" % ("ghp_" + "B" * 36), "GITHUB_TOKEN is ghp_***"),
        ("GET /v1?api_key=abc&limit=3", "GET /v1?api_key=***&limit=3"),
        # not secrets: an e-mail, a query value with @, basic information, a plain URL
        ("mail a@b.com, see https://x.org/a?b=c@d, basic information, http://127.0.0.1:8000/v1",
         "mail a@b.com, see https://x.org/a?b=c@d, basic information, http://127.0.0.1:8000/v1"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


def test_redact_hides_known_literals_of_any_shape() -> None:
    assert redact("refused: key abc-123-xyz was wrong", ["abc-123-xyz", None, ""]) == "refused: key *** was wrong"
    assert redact("a b c", ["a"]) == "a b c"  # a one-letter "secret" does not blank out the text


@pytest.mark.parametrize(
    "name, secret",
    [("token", True), ("HF_TOKEN", True), ("api_key", True), ("apikey", True), ("X-Api-Key", True),
     ("OPENAI_API_KEY", True), ("password", True), ("client_secret", True), ("aws_secret_access_key", True),
     ("hfToken", True), ("access_key", True),
     ("max_new_tokens", False), ("tokenizer", False), ("hf_hub_log_args", False), ("pretrained", False),
     ("key", False), ("keyword", False), ("monkey", False)],
)
def test_is_secret_key(name: str, secret: bool) -> None:
    assert is_secret_key(name) is secret


def test_scrub_url() -> None:
    assert scrub_url("http://user:pass@host:8000/v1") == "http://***@host:8000/v1"
    assert scrub_url("https://tok@host/v1?api_key=x&a=1") == "https://***@host/v1?api_key=***&a=1"
    assert scrub_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert scrub_url(scrub_url("http://u:p@h/")) == "http://***@h/"


def test_drop_secret_args() -> None:
    args = {"pretrained": "m", "token": "abc", "use_auth_token": True, "cache": FAKE_TOKEN, "api_key": None,
            "endpoint": "http://u:p@h/v1", "max_new_tokens": 16}
    assert drop_secret_args(args) == {"pretrained": "m", "use_auth_token": True, "api_key": None,
                                      "max_new_tokens": 16}
    assert list(drop_secret_args({"b": 1, "a": 2})) == ["b", "a"]  # order kept


def test_redacting_stream_catches_a_secret_split_across_writes() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write("model_args: pretrained=m,tok")
    stream.write("en=%s\n" % FAKE_TOKEN[:10])
    stream.write(FAKE_TOKEN[10:] + " progress\r")  # (not a secret-named key after the split: still a token shape)
    stream.write("tail api_key=abc")
    assert "api_key" not in sink.getvalue()  # held until the line ends or a flush
    stream.flush()
    out = sink.getvalue()
    assert "token=***" in out and "api_key=***" in out and FAKE_TOKEN[3:] not in out and "progress\r" in out


def test_log_redaction_covers_stdlib_logging(caplog: pytest.LogCaptureFixture) -> None:
    secrets.install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("pushing with token=%s to http://u:p@h/", FAKE_TOKEN)
        logging.getLogger("some.library").info("100%% done, %d files", 3)
    assert FAKE_TOKEN not in caplog.text and "token=***" in caplog.text and "http://***@h/" in caplog.text
    assert "100% done, 3 files" in caplog.text


def test_log_redaction_covers_loguru_after_handlers_are_reset() -> None:
    from loguru import logger

    seen: list[str] = []
    previous = logger._core.patcher
    logger.configure(patcher=lambda record: seen.append(record["message"]))  # a patcher someone set before us
    try:
        assert secrets.install_log_redaction()
        assert secrets.install_log_redaction()  # idempotent: not wrapped twice
        sink = io.StringIO()
        handler = logger.add(sink, format="{message}")  # as lmms-eval's CLI does after the entry point ran
        logger.info(f"Evaluation tracker args: {{'token': '{FAKE_TOKEN}'}}")
        logger.remove(handler)
        assert FAKE_TOKEN not in sink.getvalue() and "'token': '***'" in sink.getvalue()
        assert seen == [f"Evaluation tracker args: {{'token': '{FAKE_TOKEN}'}}"]  # the earlier patcher still runs
    finally:
        logger.configure(patcher=previous)


def test_one_secrets_module() -> None:
    """No other module of the package defines its own secret patterns or scrubber."""
    root = Path(secrets.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path == Path(secrets.__file__):
            continue
        text = path.read_text(encoding="utf-8")
        for marker in ("sk-[A-Za-z", "hf_[A-Za-z0-9]", "Bearer\\s", "def redact_secrets", 'replace(token, "***")',
                       'replace(key, "***")'):
            if marker in text:
                offenders.append(f"{path.relative_to(root)}: {marker}")
    assert not offenders, offenders
    assert REDACTED == "***"


def test_judge_refuses_userinfo_in_its_base_url_without_showing_it() -> None:
    from rsmmvp_tasks.errors import UsageError
    from rsmmvp_tasks.evaluation.judge import JudgeConfig

    env = {"RSMMVP_JUDGE_BASE_URL": "http://alice:hunter2pw@judge.lan:8000/v1", "RSMMVP_JUDGE_MODEL": "m"}
    with pytest.raises(UsageError, match="RSMMVP_JUDGE_API_KEY") as caught:
        JudgeConfig.from_env(env)
    assert "hunter2pw" not in str(caught.value) and "alice" not in str(caught.value)
    assert "http://***@judge.lan:8000/v1" in str(caught.value)
    with pytest.raises(UsageError) as caught:
        JudgeConfig.from_env({**env, "RSMMVP_JUDGE_BASE_URL": "ftp://bob:pw1234@judge.lan/v1"})
    assert "pw1234" not in str(caught.value)

