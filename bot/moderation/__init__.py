"""Server controls and prompt screening: the core of moderation, without any Discord code.

- `ServerSettings` (settings.py): one server's controls as a frozen value, with validating
  changes; `ServerSettingsStore` (store.py) keeps them beside the quotas (`open_server_settings`
  with the same STATE_URL).
- `check_access` (access.py): may this member use the commands here? `AccessDenied` says where.
- `screen` (screening.py): blocked terms (terms.py), then the moderation endpoint (client.py);
  `PromptRefused` says which layer refused, `refused_by_provider` maps the Images API's own.
"""

from bot.moderation.access import check_access
from bot.moderation.client import (
    MODERATION_CATEGORIES,
    ModerationClient,
    ModerationResult,
)
from bot.moderation.errors import (
    AccessDenied,
    AccessRule,
    CorruptSettings,
    InvalidSetting,
    Layer,
    ModerationUnavailable,
    PromptRefused,
)
from bot.moderation.screening import (
    refused_by_provider,
    screen,
)
from bot.moderation.settings import FOREVER, ServerSettings
from bot.moderation.store import ServerSettingsStore, open_server_settings
from bot.moderation.terms import BlockedTerms, TermMatch, compile_terms, fold, normalise_term

__all__ = [
    "FOREVER",
    "MODERATION_CATEGORIES",
    "AccessDenied",
    "AccessRule",
    "BlockedTerms",
    "CorruptSettings",
    "InvalidSetting",
    "Layer",
    "ModerationClient",
    "ModerationResult",
    "ModerationUnavailable",
    "PromptRefused",
    "ServerSettings",
    "ServerSettingsStore",
    "TermMatch",
    "check_access",
    "compile_terms",
    "fold",
    "normalise_term",
    "open_server_settings",
    "refused_by_provider",
    "screen",
]
