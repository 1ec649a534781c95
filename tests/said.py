"""What a member reads of an error the core raised, for tests that call the core directly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.errors import InvalidInput
from bot.front.explain import say


def problems(error: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, ...]:
    """Each problem of `error` in English, as the member reads it."""
    return tuple(say(None, each) for each in error.value.problems)


@contextmanager
def refused(pattern: str) -> Iterator[None]:
    """`pytest.raises(InvalidInput, match=pattern)` on what the member reads."""
    with pytest.raises(InvalidInput) as error:
        yield
    assert any(re.search(pattern, each) for each in problems(error)), problems(error)
