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

from bot.images.errors import ContentPolicyViolation
from bot.moderation.client import CATEGORY_LABELS, ModerationClient
from bot.moderation.errors import ModerationUnavailable, PromptRefused
from bot.moderation.settings import ServerSettings
from bot.moderation.terms import TermMatch, compile_terms

log = logging.getLogger(__name__)

BLOCKED_TERM_MESSAGE = (
    "Your prompt contains a term this server has blocked, so nothing was generated. "
    "Please rephrase it."
)
MODERATION_MESSAGE = "The moderation check flagged your prompt{categories}. Please rephrase it."
PROVIDER_MESSAGE = (
    "The image provider refused this prompt under its content policy. Try rephrasing it."
)


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
                BLOCKED_TERM_MESSAGE,
                layer="blocked_terms",
                reason=f"blocked term {found.term!r} (written as {found.matched!r})",
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
    labels = ", ".join(CATEGORY_LABELS.get(name, name) for name in blocking)
    scores = ", ".join(f"{name}={result.scores.get(name, 0.0):.2f}" for name in blocking)
    raise PromptRefused(
        MODERATION_MESSAGE.format(categories=f" ({labels})" if labels else ""),
        layer="moderation",
        reason=(
            f"moderation model {result.model or moderation.model} flagged "
            f"{scores or 'the prompt (no category named)'} (request_id={result.request_id})"
        ),
        categories=blocking,
    )


def refused_by_provider(error: ContentPolicyViolation) -> PromptRefused:
    """The Images API's own refusal (content_policy_violation, moderation_blocked) as a refusal."""
    return PromptRefused(
        PROVIDER_MESSAGE,
        layer="provider",
        reason=(
            f"the image provider refused the prompt: code={error.code} "
            f"request_id={error.request_id} message={error.api_message}"
        ),
    )


def _find_blocked_term(terms: tuple[str, ...], prompt: str) -> TermMatch | None:
    return compile_terms(terms).find(prompt)
