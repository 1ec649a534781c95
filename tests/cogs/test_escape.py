"""Issue 14: prompts are escaped as discord.py escapes them, without its call that Python 3.13
deprecates (re.sub's count passed positionally: an error under the tests' warning filter)."""

from __future__ import annotations

import warnings

import discord
import pytest

from bot.front.caption import escape_markdown


@pytest.mark.parametrize(
    "text",
    [
        "**bold** _it_ ~~struck~~ `code` | pipe",
        "> a quote\n# a heading\n - an item",
        "see https://example.com/a_b_c and <https://example.com/_z_>",
        "[a link](http://a.b) and a back\\slash",
        "a*b_c`d~e|f",
        "",
    ],
)
def test_escape_markdown_matches_discord_py(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = discord.utils.escape_markdown(text)
    assert escape_markdown(text) == expected
