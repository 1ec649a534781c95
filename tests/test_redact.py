"""Issue 10: at LOG_LEVEL=DEBUG, no log line shows an interaction token, a webhook token, the
bot token, an API key or a registered secret, whoever logs it."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.redact import REDACTED, Redactor, install

BOT_TOKEN = "MTE4NDk2MTIzNDU2Nzg5MDEy.GhXyZa.abcdefghijklmnopqrstuvwxyz0123456789AB"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTE4NDk2MTIzNDU2Nzg5MDEyOnNlY3JldA-_.xyz"
WEBHOOK_TOKEN = "Zq3_kLmN0pQrStUvWxYz-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
API_KEY = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"
SALT = "a-salt-that-is-long-enough"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of a library's name whose lines go to a string, through an installed
    redactor (on the handler, as on the root logger's)."""
    out = io.StringIO()
    parent = logging.getLogger("redact-test")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    install([BOT_TOKEN, SALT, "short"], logger=parent)
    try:
        yield logging.getLogger("redact-test.discord.gateway"), out
    finally:
        parent.removeHandler(handler)


def assert_clean(text: str) -> None:
    for secret in (BOT_TOKEN, INTERACTION_TOKEN, WEBHOOK_TOKEN, API_KEY, SALT):
        assert secret not in text
        assert secret[-16:] not in text


def test_a_gateway_payload_in_a_dicts_repr(logged: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logged
    payload = {
        "t": "INTERACTION_CREATE",
        "d": {"id": "1184961234567890012", "token": INTERACTION_TOKEN, "type": 2},
    }
    log.debug("For Shard ID %s: WebSocket Event: %s", 0, payload)
    line = out.getvalue()
    assert_clean(line)
    assert f"'token': '{REDACTED}'" in line
    assert "'id': '1184961234567890012'" in line  # the rest stays readable


def test_json_bodies_urls_and_headers(logged: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logged
    log.debug("payload %s", json.dumps({"token": INTERACTION_TOKEN, "op": 2}))
    log.debug(
        "POST https://discord.com/api/v10/interactions/1184961234567890012/%s/callback",
        INTERACTION_TOKEN,
    )
    log.debug("PATCH /webhooks/1184961234567890099/%s/messages/@original", WEBHOOK_TOKEN)
    log.debug("headers: %s", {"Authorization": f"Bot {BOT_TOKEN}", "User-Agent": "x"})
    log.debug("Authorization: Bearer %s", API_KEY)
    log.info("the key %s was refused", API_KEY)
    text = out.getvalue()
    assert_clean(text)
    assert f'"token": "{REDACTED}"' in text
    assert f"/interactions/1184961234567890012/{REDACTED}/callback" in text
    assert f"/webhooks/1184961234567890099/{REDACTED}/messages/@original" in text
    assert "'User-Agent': 'x'" in text
    assert f"sk-{REDACTED}" in text


def test_registered_secrets_tracebacks_and_stacks(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logged
    log.warning("salt %s, token %s, and a short one", SALT, BOT_TOKEN)
    try:
        raise RuntimeError(f"login failed with {BOT_TOKEN} at /webhooks/1/{WEBHOOK_TOKEN}")
    except RuntimeError:
        log.exception("could not connect")
    log.debug("where %s", SALT, stack_info=True)
    text = out.getvalue()
    assert_clean(text)
    assert "RuntimeError: login failed with [REDACTED]" in text
    assert "and a short one" in text  # secrets under 8 characters are not hidden


def test_nothing_to_hide_leaves_the_record_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "made %d images", (3,), None)
    assert Redactor([BOT_TOKEN]).filter(record)
    assert (record.msg, record.args) == ("made %d images", (3,))


def test_a_bad_logging_call_is_left_to_the_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d images", ("many",), None)
    assert Redactor().filter(record)
    assert record.args == ("many",)


def test_the_redactor_shows_no_secret_itself() -> None:
    assert SALT not in repr(Redactor([SALT]))


@contextmanager
def logging_as_the_bot(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[io.StringIO]:
    """Logging configured as `python -m bot` does (its secrets and `env` the only settings),
    writing into a buffer; the root logger is put back after."""
    from bot.__main__ import settings_from_environment

    for name in list(os.environ):
        monkeypatch.delenv(name)
    settings = {"DISCORD_TOKEN": BOT_TOKEN, "OPENAI_API_KEY": API_KEY, "USER_ID_SALT": SALT}
    for name, value in {**settings, **env}.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        assert settings_from_environment() is not None
        out = io.StringIO()
        for handler in root.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(out)
        yield out
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_logging_as_the_bot_configures_it_hides_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with logging_as_the_bot(monkeypatch, LOG_LEVEL="DEBUG") as out:
        logging.getLogger("discord.http").debug("token %s key %s salt %s", BOT_TOKEN, API_KEY, SALT)
        text = out.getvalue()
    assert "token" in text
    assert_clean(text)
