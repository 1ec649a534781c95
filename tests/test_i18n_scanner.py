"""No member-facing words outside the catalogue: a scan of the string literals in bot/ and cogs/.

A literal counts as words for a member when it reads like prose (two or more words) and is not
a docstring, a log line, an operator's error (ValueError, ConfigError...), SQL, or the English
of a catalogue entry (command descriptions stay in the cogs: the translator looks them up).

Every module of bot/ and cogs/ is scanned (the conversion of issue 13 is complete), except
OPERATOR_ONLY, modules whose words only the operator reads (logs, settings, the entry point).
A single literal that is not
for members (a prompt sent to the API, a label for the log) is marked on its line with the
comment `# i18n: not for members`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.front.i18n import ENGLISH, catalogues

ROOT = Path(__file__).resolve().parents[1]

# Words only the operator reads: settings and their docs, the entry point, storage, the
# transport's and the sync's log lines. A folder (ending in /) covers everything in it.
OPERATOR_ONLY = (
    "bot/__main__.py",
    "bot/build.py",
    "bot/config/",
    "bot/redact.py",
    "bot/secrets.py",
    "bot/state/",
    "bot/limits/store/",
    "bot/moderation/store/",
    "bot/transport.py",
    "bot/images/b64json.py",
    "bot/images/client.py",
    "bot/front/sync.py",
    # On main since this branch began: the connection's log lines and `python -m bot doctor`.
    "bot/front/connect.py",
    "bot/front/doctor",
    # Job records (what the log and the database read) and the Prometheus metrics' help texts.
    "bot/records/",
    # Stream parsing's failure reasons (logged) and the queue's withdrawal (data only).
    "bot/images/stream.py",
    "bot/limits/withdrawal.py",
    "bot/front/tracking.py",
    "bot/metrics.py",
    "cogs/metrics.py",
)


_LOGGING = {"debug", "info", "warning", "error", "exception", "critical", "log"}
_LOGGERS = {"log", "logger", "logging"}
_OPERATOR_ERRORS = {
    "ValueError",
    "TypeError",
    "RuntimeError",
    "KeyError",
    "LookupError",
    "AssertionError",
    "NotImplementedError",
    "OSError",
    "SystemExit",
    "ConfigError",
    "Error",  # binascii.Error and the like
}
_PROSE = re.compile(r"[A-Za-z]{2,}[^A-Za-z]+[A-Za-z]{2,}")
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|ALTER|DROP|WITH)\b")
_FIELD = re.compile(r"\{[^{}]*\}")
_NOT_FOR_MEMBERS = "# i18n: not for members"
_REPR = re.compile(r"^[A-Z]\w*\(\w+=")  # a __repr__: Reservation(id={}, ...)


def modules() -> list[str]:
    """Every module of bot/ and cogs/, as a path from the repository root."""
    found = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]
    return sorted(p.relative_to(ROOT).as_posix() for p in found)


def _english() -> set[str]:
    english = catalogues()[ENGLISH]
    return {_FIELD.sub("{}", form) for entry in english.entries.values() for form in entry.forms}


class _Scanner(ast.NodeVisitor):
    """Collects the prose literals of one module, skipping what is not for members."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.found: list[tuple[int, str]] = []

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value if isinstance(func, ast.Attribute) else None
        if name in _LOGGING and isinstance(owner, ast.Name) and owner.id in _LOGGERS:
            return
        if name in _OPERATOR_ERRORS or name == "getLogger":
            return
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring, or a string statement: nothing a member reads
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = [
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        ]
        self._check(node.lineno, "".join(parts))

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._check(node.lineno, node.value)

    def _check(self, line: int, value: str) -> None:
        plain = _FIELD.sub("{}", value)
        if _SQL.match(value) or _REPR.match(value) or plain in self.known:
            return
        if _PROSE.search(_FIELD.sub(" ", value)) and " " in value.strip():
            self.found.append((line, value))


def findings(module: str) -> list[tuple[int, str]]:
    """The member-facing literals of `module` (line, text) that are not in the catalogue."""
    return _scan(ROOT.joinpath(module).read_text(encoding="utf-8"), _english())


def _scan(source: str, known: set[str]) -> list[tuple[int, str]]:
    scanner = _Scanner(known)
    scanner.visit(ast.parse(source))
    lines = source.splitlines()
    return [(n, text) for n, text in scanner.found if _NOT_FOR_MEMBERS not in lines[n - 1]]


def _scanned() -> Iterator[str]:
    return (m for m in modules() if not m.startswith(OPERATOR_ONLY))


@pytest.mark.parametrize("module", list(_scanned()))
def test_converted_modules_have_no_words_outside_the_catalogue(module: str) -> None:
    assert findings(module) == [], (
        f"{module} writes words for members in the code: put them in locales/ "
        "(both languages) and render them with bot.front.i18n"
    )


def test_the_scanner_finds_words_and_skips_what_members_never_read() -> None:
    source = '''
"""A docstring stays."""
import logging
log = logging.getLogger(__name__)
SQL = "SELECT key, value FROM settings WHERE guild = ?"
def f(interaction, n):
    """So does this one."""
    log.info("sent %d images to the member", n)
    if n < 0:
        raise ValueError("n must not be negative here")
    label = f"{n} (square)"
    hint = "Describe a variation of this picture"  # i18n: not for members
    return interaction.followup.send(f"You have {n} images left today.")
'''
    assert _scan(source, {"{} (square)"}) == [(13, "You have {} images left today.")]
