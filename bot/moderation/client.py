"""OpenAI's moderation endpoint (`POST /moderations`) over the process's one aiohttp session.

Used before any image is paid for: the prompt is classified, and the categories this bot is
set to block decide. Every failure (HTTP error, timeout, network, an answer that is not a
moderation result) becomes `ModerationUnavailable`, after at most `max_attempts` tries for the
transient ones; what happens then is the caller's policy (`fail_open`, see `screening.screen`).
The API key is sent in a header built per request and never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import aiohttp

from bot.downloads import DownloadTooLarge, read_capped
from bot.moderation.errors import ModerationUnavailable
from bot.secrets import Secret
from bot.transport import safe_api_message

log = logging.getLogger(__name__)

DEFAULT_MODEL = "omni-moderation-latest"
DEFAULT_TIMEOUT = 10.0

# The categories of CreateModerationResponse (OpenAI spec 2.3.0), in the spec's order, with
# the words a member sees for each.
CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "hate": "hate",
        "hate/threatening": "threatening hate",
        "harassment": "harassment",
        "harassment/threatening": "threatening harassment",
        "illicit": "illicit activity",
        "illicit/violent": "violent illicit activity",
        "self-harm": "self-harm",
        "self-harm/intent": "self-harm intent",
        "self-harm/instructions": "self-harm instructions",
        "sexual": "sexual content",
        "sexual/minors": "sexual content involving minors",
        "violence": "violence",
        "violence/graphic": "graphic violence",
    }
)
MODERATION_CATEGORIES = tuple(CATEGORY_LABELS)
_MAX_BODY = 1024 * 1024
_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


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
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: Secret | None,
        model: str = DEFAULT_MODEL,
        block_categories: Iterable[str] | None = None,
        fail_open: bool = False,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = 2,
        retry_wait: float = 0.5,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")
        self.block_categories = None if block_categories is None else frozenset(block_categories)
        unknown = (self.block_categories or frozenset()) - set(MODERATION_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown moderation categories {sorted(unknown)}; "
                f"known: {', '.join(MODERATION_CATEGORIES)}"
            )
        self._session = session
        self._url = base_url.rstrip("/") + "/moderations"
        self._api_key = api_key
        self.model = model
        self.fail_open = fail_open
        self._organization = organization
        self._project = project
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_wait = retry_wait

    def __repr__(self) -> str:
        return f"ModerationClient(url={self._url!r}, model={self.model!r})"

    async def classify(self, text: str) -> ModerationResult:
        """The endpoint's verdict on `text`; `ModerationUnavailable` if there is none."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._classify_once(text)
            except _Failure as failure:
                gives_up = not failure.retryable or attempt >= self._max_attempts
                log.log(
                    logging.ERROR if failure.status in (401, 403, 404) else logging.WARNING,
                    "Moderation attempt %d/%d failed: %s status=%s code=%s request_id=%s "
                    "api_message=%s; %s",
                    attempt,
                    self._max_attempts,
                    failure.what,
                    failure.status,
                    failure.code,
                    failure.request_id,
                    self._without_key(failure.api_message),
                    "giving up" if gives_up else f"retrying in {self._retry_wait:.2f}s",
                )
                if gives_up:
                    raise ModerationUnavailable(
                        status=failure.status, code=failure.code, request_id=failure.request_id
                    ) from None
            await asyncio.sleep(self._retry_wait)

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

    async def _classify_once(self, text: str) -> ModerationResult:
        try:
            async with self._session.post(
                self._url,
                json={"model": self.model, "input": text},
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                request_id = response.headers.get("x-request-id")
                status = response.status
                try:
                    body = await read_capped(response, _MAX_BODY)
                except DownloadTooLarge:
                    raise _Failure(
                        "answer too large", status=status, request_id=request_id
                    ) from None
        except TimeoutError:
            raise _Failure("timeout", retryable=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Failure(f"network error ({type(exc).__name__})", retryable=True) from None
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not 200 <= status < 300:
            error = payload.get("error") if isinstance(payload, dict) else None
            error = error if isinstance(error, dict) else {}
            raise _Failure(
                "HTTP error",
                status=status,
                code=_text(error.get("code")),
                api_message=_text(error.get("message")),
                request_id=request_id,
                retryable=status in _RETRYABLE_STATUSES
                and error.get("code") != "insufficient_quota",
            )
        result = _parse(payload, request_id)
        if result is None:
            raise _Failure("not a moderation result", status=status, request_id=request_id)
        return result

    def _headers(self) -> dict[str, str]:
        # Built per request so the revealed key is never kept in an attribute.
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        if self._organization:
            headers["OpenAI-Organization"] = self._organization
        if self._project:
            headers["OpenAI-Project"] = self._project
        return headers

    def _without_key(self, text: str | None) -> str | None:
        key = self._api_key.reveal() if self._api_key else ""
        if text and key:
            text = text.replace(key, "[hidden]")
        return safe_api_message(text)


class _Failure(Exception):
    """One failed attempt, with what the log needs."""

    def __init__(
        self,
        what: str,
        *,
        status: int | None = None,
        code: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.code = code
        self.api_message = api_message
        self.request_id = request_id
        self.retryable = retryable


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
