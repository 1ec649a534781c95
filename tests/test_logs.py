"""Issue 14: LOG_FORMAT=json writes one JSON object per line for log collectors, with tokens,
keys and the salt still redacted (the filter from bot.redact runs before the formatter)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import ConfigError, Settings
from tests.test_redact import API_KEY, BOT_TOKEN, SALT, logging_as_the_bot


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging configured as `python -m bot` does with LOG_FORMAT=json, into a buffer."""
    with logging_as_the_bot(monkeypatch, LOG_FORMAT="json") as out:
        yield out


def _records(text: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in text.splitlines()]


def test_each_record_is_one_json_object_on_one_line(json_log: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.info("job %s done in %.1f s", "abc", 2.5)
    try:
        raise RuntimeError("upstream broke\nacross lines")
    except RuntimeError:
        log.exception("job failed")
    first, second = _records(json_log.getvalue())
    assert first["level"] == "INFO"
    assert first["logger"] == "bot.test"
    assert first["message"] == "job abc done in 2.5 s"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR"
    assert "RuntimeError: upstream broke" in second["exception"]


def test_json_lines_are_redacted(json_log: io.StringIO) -> None:
    log = logging.getLogger("discord.http")
    log.warning("token %s key %s salt %s", BOT_TOKEN, API_KEY, SALT)
    try:
        raise ValueError(f"Authorization: Bot {BOT_TOKEN}")
    except ValueError:
        log.exception("request failed")
    text = json_log.getvalue()
    assert len(_records(text)) == 2
    for secret in (BOT_TOKEN, API_KEY, SALT):
        assert secret not in text


def test_log_format_and_metrics_addr_are_checked() -> None:
    base = {"DISCORD_TOKEN": BOT_TOKEN, "OPENAI_API_KEY": API_KEY}
    settings = Settings.from_env({**base, "METRICS_ADDR": "127.0.0.1:9108"})
    assert settings.metrics_addr == ("127.0.0.1", 9108)
    assert settings.log_format == "text"
    assert Settings.from_env(base).metrics_addr is None
    assert Settings.from_env({**base, "METRICS_ADDR": "[::1]:9108"}).metrics_addr == ("::1", 9108)
    for wrong in ({"LOG_FORMAT": "xml"}, {"METRICS_ADDR": "9108"}, {"METRICS_ADDR": "h:99999"}):
        with pytest.raises(ConfigError):
            Settings.from_env({**base, **wrong})
