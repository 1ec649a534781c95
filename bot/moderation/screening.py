"""Prompt screening, in layers, before any money is spent; and the provider's own refusal.

`screen` runs the server's blocked terms (free, in-process), then the moderation endpoint (if
the bot has one). A refusal is `PromptRefused` with the layer and, for the mod-log only, the
reason. The caller screens before reserving quota, so a refused prompt costs the member
nothing. The third layer is the Images API refusing the prompt itself: `refused_by_provider`
turns that `ContentPolicyViolation` into the same kind of refusal.

Failure policy: when the moderation endpoint fails, `ModerationClient.fail_open` decides. The
default (fail closed) raises `ModerationUnavailable` ("couldn't check your prompt right now,
try again in a minute"), which is not a refusal of the prompt and belongs in no mod-log; fail
open logs a warning and lets the prompt through, relying on the provider's own checks.
"""

from __future__ import annotations

import asyncio
import logging

from bot.errors import Listed, Problem, UserFacingError
from bot.images.errors import ContentPolicyViolation
from bot.moderation.client import ModerationClient
from bot.moderation.errors import ModerationUnavailable, PromptRefused
from bot.moderation.settings import ServerSettings
from bot.moderation.terms import TermMatch, compile_terms

log = logging.getLogger(__name__)

of = UserFacingError.of


async def screen(
    prompt: str, settings: ServerSettings | None, moderation: ModerationClient | None
) -> None:
    """Raise `PromptRefused` if a layer refuses the prompt (or `ModerationUnavailable`).

    `settings` is None in direct messages (no blocked terms); `moderation` is None when the
    bot checks no prompts with the moderation endpoint.
    """
    if settings is not None and settings.blocked_terms:
        # In a thread: compiling a server's terms the first time takes a fraction of a second.
        found = await asyncio.to_thread(_find_blocked_term, settings.blocked_terms, prompt)
        if found is not None:
            raise PromptRefused(
                of("moderation.blocked_term"),
                layer="blocked_terms",
                reason=of(
                    "moderation.reason.blocked_term",
                    term=repr(found.term),
                    matched=repr(found.matched),
                ),
            )
    if moderation is None:
        return
    try:
        result = await moderation.classify(prompt)
    except ModerationUnavailable as exc:
        if not moderation.fail_open:
            raise
        log.warning(
            "Moderation unavailable (status=%s request_id=%s); letting the prompt through "
            "because the bot is set to fail open",
            exc.status,
            exc.request_id,
        )
        return
    if not moderation.refuses(result):
        return
    blocking = moderation.blocking_categories(result)
    labels = Listed(tuple(category(name) for name in blocking), conjunction=None)
    scores = ", ".join(f"{name}={result.scores.get(name, 0.0):.2f}" for name in blocking)
    model = result.model or moderation.model
    raise PromptRefused(
        of("moderation.flagged", categories=labels) if blocking else of("moderation.flagged_any"),
        layer="moderation",
        reason=(
            of("moderation.reason.flagged", model=model, scores=scores, request=result.request_id)
            if scores
            else of("moderation.reason.flagged_any", model=model, request=result.request_id)
        ),
        categories=blocking,
    )


def category(name: str) -> Problem:
    """A moderation category's name for readers ("self-harm/intent": "self-harm intent")."""
    return of("moderation.category." + name.replace("/", ".").replace("-", "_"))


def refused_by_provider(error: ContentPolicyViolation) -> PromptRefused:
    """The Images API's own refusal (content_policy_violation, moderation_blocked) as a refusal."""
    return PromptRefused(
        of("moderation.provider"),
        layer="provider",
        reason=of(
            "moderation.reason.provider",
            code=error.code,
            request=error.request_id,
            message=error.api_message,
        ),
    )


def _find_blocked_term(terms: tuple[str, ...], prompt: str) -> TermMatch | None:
    return compile_terms(terms).find(prompt)
