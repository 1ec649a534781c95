"""OpenAI's moderation endpoint (`POST /moderations`) over the process's one aiohttp session.

Used before any image is paid for: the prompt is classified, and the categories this bot is
set to block decide. Every failure (HTTP error, timeout, network, an answer that is not a
moderation result) becomes `ModerationUnavailable`, after the transport's retry policy has
given up on the transient ones; what happens then is the caller's policy (`fail_open`, see
`screening.screen`). Headers, key masking and retries are `bot.transport`'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.moderation.errors import ModerationUnavailable
from bot.retry import RetryPolicy
from bot.transport import APIFailure, Transport

log = logging.getLogger(__name__)

DEFAULT_MODEL = "omni-moderation-latest"
DEFAULT_TIMEOUT = 10.0
# Every command waits for the verdict: one retry, soon, and a server that asks for a longer
# pause than the deadline is answered by the caller's fail-open/closed policy instead.
DEFAULT_RETRY = RetryPolicy(max_attempts=2, deadline=30.0, backoff_base=0.5, backoff_cap=2.0)

# The categories of CreateModerationResponse (OpenAI spec 2.3.0), in the spec's order; the
# words a reader sees for each are the catalogue's (`moderation.category.*`).
MODERATION_CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModerationResult:
    """The endpoint's verdict on one text: flagged or not, and which categories it flagged."""

    flagged: bool
    categories: frozenset[str]
    scores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    model: str | None = None
    request_id: str | None = None


class ModerationClient:
    """Classifies prompts with one moderation model, and knows which categories block.

    `block_categories`: None blocks every flagged prompt; a set blocks only when one of these
    categories is flagged, where a category also covers its subcategories ("violence" covers
    "violence/graphic"). `fail_open`: when the endpoint fails, let prompts through (True) or
    refuse them politely (False, the default).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        model: str = DEFAULT_MODEL,
        block_categories: Iterable[str] | None = None,
        fail_open: bool = False,
    ) -> None:
        self.block_categories = None if block_categories is None else frozenset(block_categories)
        unknown = (self.block_categories or frozenset()) - set(MODERATION_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown moderation categories {sorted(unknown)}; "
                f"known: {', '.join(MODERATION_CATEGORIES)}"
            )
        self._transport = transport
        self.model = model
        self.fail_open = fail_open

    def __repr__(self) -> str:
        url = self._transport.base_url + "/moderations"
        return f"ModerationClient(url={url!r}, model={self.model!r})"

    async def classify(self, text: str) -> ModerationResult:
        """The endpoint's verdict on `text`; `ModerationUnavailable` if there is none."""
        try:
            answer = await self._transport.post(
                "/moderations",
                {"model": self.model, "input": text},
                max_body=_MAX_BODY,
                what="Moderation",
                idempotent=True,  # free and without effect: a lost answer is asked again
            )
        except APIFailure as failure:
            raise ModerationUnavailable(
                status=failure.status, code=failure.code, request_id=failure.request_id
            ) from None
        try:
            payload = json.loads(answer.body)
        except ValueError:
            payload = None
        result = _parse(payload, answer.request_id)
        if result is None:
            log.warning(
                "Moderation answered with something that is not a moderation result "
                "(status=%s request_id=%s)",
                answer.status,
                answer.request_id,
            )
            raise ModerationUnavailable(status=answer.status, request_id=answer.request_id)
        return result

    def blocking_categories(self, result: ModerationResult) -> tuple[str, ...]:
        """The flagged categories that block under this client's setting, in the spec's order."""
        flagged = sorted(result.categories, key=_category_order)
        if self.block_categories is None:
            return tuple(flagged)
        return tuple(
            category
            for category in flagged
            if category in self.block_categories
            or category.split("/", 1)[0] in self.block_categories
        )

    def refuses(self, result: ModerationResult) -> bool:
        """Whether the prompt is refused under this client's setting."""
        if self.block_categories is None and result.flagged:
            return True
        return bool(self.blocking_categories(result))


def _parse(payload: Any, request_id: str | None) -> ModerationResult | None:
    """The first result of a CreateModerationResponse, or None if the payload is not one."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        return None
    first = results[0]
    flagged, categories = first.get("flagged"), first.get("categories")
    if not isinstance(flagged, bool) or not isinstance(categories, dict):
        return None
    scores = first.get("category_scores")
    return ModerationResult(
        flagged=flagged,
        # Null means "not assessed" (illicit on older models): not flagged.
        categories=frozenset(str(name) for name, value in categories.items() if value is True),
        scores=MappingProxyType(
            {
                str(name): float(score)
                for name, score in (scores.items() if isinstance(scores, dict) else ())
                if isinstance(score, int | float) and not isinstance(score, bool)
            }
        ),
        model=_text(payload.get("model")),
        request_id=request_id,
    )


def _category_order(category: str) -> tuple[int, str]:
    try:
        return (MODERATION_CATEGORIES.index(category), category)
    except ValueError:
        return (len(MODERATION_CATEGORIES), category)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
