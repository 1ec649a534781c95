"""Secrets out of every log line: a logging filter for the process's handlers.

At DEBUG, discord.py logs whole gateway payloads and request URLs: interaction tokens (each
lets anyone answer as the bot in that channel for 15 minutes), webhook URLs, the bot token in
an `Authorization` header. The filter sits on the handlers, so it sees every record whoever
logged it, and rewrites the message (its arguments merged in), the traceback and the stack.
A line with nothing to hide costs one regular-expression search and a few `in` checks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# A secret registered at start shorter than this would hide ordinary words.
_SHORTEST_SECRET = 8

_PATTERNS = (
    # /webhooks/<id>/<token> (webhook URLs, interaction followups) and
    # /interactions/<id>/<token>/callback
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.\-]+"),
    # "token": "..." in JSON and 'token': '...' in a Python dict's repr (also "access_token")
    re.compile(r"""(["'](?:\w*_)?token["']\s*:\s*["'])[^"']+"""),
    # an Authorization header or field, whatever its scheme: Bot, Bearer ...
    re.compile(r"""((?i:authorization)["']?\s*[:=]\s*["']?)[^"'\r\n,}]+"""),
    # a Discord bot token after its scheme, outside a header
    re.compile(r"(\bBot )[\w\-]{20,}\.[\w\-]{4,}\.[\w\-]{20,}"),
    # OpenAI API keys: sk-..., sk-proj-...
    re.compile(r"(\bsk-)[\w\-]{16,}"),
)
_ANY = re.compile("|".join(f"(?:{pattern.pattern})" for pattern in _PATTERNS))


class Redactor(logging.Filter):
    """Replaces tokens, keys and the registered secrets in each record with `REDACTED`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self._formatter = logging.Formatter()
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        return f"Redactor(secrets={len(self._secrets)})"

    def add_secret(self, value: str) -> None:
        """Hide `value` wherever it appears (values under 8 characters are ignored)."""
        if len(value) >= _SHORTEST_SECRET and value not in self._secrets:
            self._secrets.append(value)
            # The longest first, so a secret containing another is hidden whole.
            self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every token, key and registered secret replaced."""
        if _ANY.search(text) is not None:
            for pattern in _PATTERNS:
                text = pattern.sub(rf"\g<1>{REDACTED}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad logging call: the handler reports it itself
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatted here (the handler's formatter would reuse it), so it can be cleaned.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(secrets: Iterable[str] = (), logger: logging.Logger | None = None) -> Redactor:
    """Put one `Redactor` on every handler of `logger` (the root logger by default): call it
    after the handlers are set up, with the values to hide (token, API keys, salt)."""
    redactor = Redactor(secrets)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor
