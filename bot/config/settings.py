"""The bot's settings: one typed, frozen object built once at start-up from the environment.

`Settings.from_env` reads a mapping (normally `os.environ` after `.env` was loaded by
`__main__`) and either returns the settings or raises `ConfigError` listing every problem at
once, each with how to fix it. Secrets are `Secret`s, so the settings' repr masks them.
What each setting is (variable, default, limits, help) is declared once, in `bot.config.table`.
"""

# RUF009 takes `_declared(...)` for a default computed once and shared; it returns the field.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import bot.config.table as t
from bot import redact
from bot.config.logs import JsonFormatter
from bot.config.reader import ConfigError, Reader, Setting
from bot.images.profiles import (
    FAMILIES,
    Family,
    ModelProfile,
    ResponseFormat,
    build_profile,
    infer_family,
)
from bot.limits.limiter import queue_capacity
from bot.limits.policy import LimitPolicy, RolePolicies
from bot.secrets import Secret
from bot.state import parse_state_url

T = TypeVar("T")


_SETTING = "setting"


def _declared(setting: Setting[T]) -> T:
    """A field whose default and environment variable are `setting`'s (the field's type is T)."""
    return dataclasses.field(default=setting.default, metadata={_SETTING: setting})


def default_state_url(data_dir: Path) -> str:
    """Where state lives when STATE_URL is not set: a SQLite file in the data folder."""
    return f"sqlite:///{data_dir / 'bot.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, typed; the defaults are the declarations' (see `bot.config.table`)."""

    # A `_declared` field is read as it is; the others depend on each other (see `from_env`).
    discord_token: Secret
    openai_api_key: Secret | None
    openai_base_url: str = t.OPENAI_BASE_URL.default
    openai_org_id: str | None = _declared(t.OPENAI_ORG_ID)
    openai_project_id: str | None = _declared(t.OPENAI_PROJECT_ID)
    image_model: str = t.IMAGE_MODEL.default
    image_model_family: Family = t.DEFAULT_FAMILY
    image_response_format: ResponseFormat = _declared(t.IMAGE_RESPONSE_FORMAT)
    request_timeout: float = _declared(t.IMAGES_TIMEOUT_SECONDS)
    max_attempts: int = _declared(t.IMAGES_MAX_ATTEMPTS)
    preview_partial_images: int = _declared(t.PREVIEW_PARTIAL_IMAGES)
    retry_deadline: float = _declared(t.IMAGES_RETRY_DEADLINE_SECONDS)
    user_id_salt: Secret | None = _declared(t.USER_ID_SALT)
    data_dir: Path = t.DATA_DIR.default
    result_actions_retention_days: int = _declared(t.RESULT_ACTIONS_RETENTION_DAYS)
    discord_guild_id: int | None = _declared(t.DISCORD_GUILD_ID)
    shard_count: int | None = _declared(t.SHARD_COUNT)
    shard_ids: tuple[int, ...] | None = _declared(t.SHARD_IDS)
    log_level: str = _declared(t.LOG_LEVEL)
    log_format: str = _declared(t.LOG_FORMAT)
    metrics_addr: tuple[str, int] | None = _declared(t.METRICS_ADDR)
    event_loop: str = _declared(t.EVENT_LOOP)
    max_attachment_bytes: int = _declared(t.MAX_ATTACHMENT_BYTES)
    max_image_pixels: int = _declared(t.MAX_IMAGE_PIXELS)
    extra_attachment_origins: frozenset[str] = _declared(t.EXTRA_ATTACHMENT_ORIGINS)
    max_result_bytes: int = _declared(t.MAX_RESULT_BYTES)
    shutdown_grace: float = _declared(t.SHUTDOWN_GRACE_SECONDS)
    allow_dms: bool = _declared(t.ALLOW_DMS)
    help_base_url: str = _declared(t.HELP_BASE_URL)
    # Not in the repr: a Redis URL may carry a password.
    state_url: str = dataclasses.field(default=default_state_url(t.DATA_DIR.default), repr=False)
    role_policies: RolePolicies = dataclasses.field(default_factory=RolePolicies)
    images_per_minute: int = _declared(t.IMAGES_PER_MINUTE)
    max_concurrent_requests: int = _declared(t.MAX_CONCURRENT_REQUESTS)
    queue_max: int = _declared(t.QUEUE_MAX)
    queue_max_per_member: int = _declared(t.QUEUE_MAX_PER_MEMBER)
    moderation_enabled: bool = t.MODERATION_ENABLED.default
    moderation_base_url: str = t.MODERATION_BASE_URL.default
    moderation_api_key: Secret | None = t.MODERATION_API_KEY.default
    moderation_model: str = _declared(t.MODERATION_MODEL)
    moderation_block_categories: frozenset[str] | None = _declared(t.MODERATION_BLOCK_CATEGORIES)
    moderation_fail_open: bool = _declared(t.MODERATION_FAIL_OPEN)
    server_limits_may_exceed_default: bool = _declared(t.SERVER_LIMITS_MAY_EXCEED_DEFAULT)

    @property
    def profile(self) -> ModelProfile:
        """The request rules of the configured model."""
        return build_profile(
            self.image_model_family, self.image_model, response_format=self.image_response_format
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build the settings from `env`, or raise `ConfigError` listing every problem."""
        reader = Reader(env)
        token = reader.read(t.DISCORD_TOKEN, required=True)
        base_url, api_key = _images_api(reader)
        model = reader.read(t.IMAGE_MODEL)
        family = _family(reader, model)
        data_dir = reader.read(t.DATA_DIR)
        moderation_enabled, moderation_url, moderation_key = _moderation(reader, base_url, api_key)
        state_url = reader.read(t.STATE_URL, default=default_state_url(data_dir))
        role_policies = _role_policies(reader)
        declared = {
            field.name: reader.read(field.metadata[_SETTING])
            for field in dataclasses.fields(cls)
            if _SETTING in field.metadata and field.name != "queue_max"
        }
        # By default, as many requests as the budget starts within Discord's 15 minutes.
        capacity = queue_capacity(
            declared["images_per_minute"], job_seconds=declared["request_timeout"]
        )
        declared["queue_max"] = reader.read(t.QUEUE_MAX, default=capacity)
        settings = cls(
            discord_token=token,
            openai_api_key=api_key,
            openai_base_url=base_url,
            image_model=model,
            image_model_family=family,
            data_dir=data_dir,
            state_url=state_url,
            role_policies=role_policies,
            moderation_enabled=moderation_enabled,
            moderation_base_url=moderation_url,
            moderation_api_key=moderation_key,
            **declared,
        )
        _check_shards(reader, settings)
        if reader.problems:
            raise ConfigError(reader.problems)
        return settings

    @property
    def shares_guilds(self) -> bool:
        """Whether other processes run some of the shards (this one has only `shard_ids`)."""
        if self.shard_count is None or self.shard_ids is None:
            return False
        return set(self.shard_ids) != set(range(self.shard_count))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests and benchmarks)."""
        return dataclasses.replace(self, **changes)


def _check_shards(reader: Reader, settings: Settings) -> None:
    """SHARD_IDS needs SHARD_COUNT and numbers below it; several processes need one Redis."""
    count, ids = settings.shard_count, settings.shard_ids
    if ids is not None and count is None:
        reader.fail(t.SHARD_IDS.env, "needs SHARD_COUNT (how many shards there are in all)")
    elif ids is not None and count is not None and ids[-1] >= count:
        reader.fail(t.SHARD_IDS.env, f"has a shard number of {count} or more (SHARD_COUNT={count})")
    elif (
        settings.shares_guilds
        and t.STATE_URL.env not in reader.problem_names
        and parse_state_url(settings.state_url).backend != "redis"
    ):
        # Each process would keep its own allowances, budget and settings: one service no more.
        reader.fail(
            t.STATE_URL.env,
            "must be a redis:// URL when SHARD_IDS leaves shards to other processes: every "
            "process must share one store for allowances, the budget and server settings",
        )
    if settings.shares_guilds and settings.user_id_salt is None:
        # Each process would make its own salt, so one member would have several allowances.
        reader.fail(
            t.USER_ID_SALT.env,
            "must be set, the same in every process, when SHARD_IDS leaves shards to other "
            "processes: a member's allowance is kept under their salted id",
        )


def _on_openai(url: str) -> bool:
    return urlsplit(url).hostname == "api.openai.com"


def _images_api(reader: Reader) -> tuple[str, Secret | None]:
    """OPENAI_BASE_URL and OPENAI_API_KEY: a self-hosted server may need no key, OpenAI does."""
    base_url = reader.read(t.OPENAI_BASE_URL)
    key_required = _on_openai(base_url) and t.OPENAI_BASE_URL.env not in reader.problem_names
    return base_url, reader.read(t.OPENAI_API_KEY, required=key_required)


def _family(reader: Reader, model: str) -> Family:
    """IMAGE_MODEL_FAMILY, or the family the model's name tells."""
    family = reader.read(t.IMAGE_MODEL_FAMILY) or infer_family(model)
    if family is None and t.IMAGE_MODEL.env not in reader.problem_names:
        reader.problems.append(
            f"IMAGE_MODEL_FAMILY: can't tell which API rules the model {model!r} follows. "
            f"Set IMAGE_MODEL_FAMILY to one of {', '.join(FAMILIES)} "
            "(a self-hosted server that copies DALL-E 2 is usually dall-e-2)."
        )
    return family or t.DEFAULT_FAMILY


def _role_policies(reader: Reader) -> RolePolicies:
    """LIMIT_* settings: the default policy, per-role overrides and exempt roles."""
    window_seconds = reader.read(t.LIMIT_WINDOW_SECONDS)
    default = LimitPolicy(
        window_seconds=window_seconds,
        window_images=reader.read(t.LIMIT_WINDOW_IMAGES),
        daily_images=reader.read(t.LIMIT_DAILY_IMAGES),
    )
    # An override keeps the window's length and sets its own numbers.
    overrides = {
        role: LimitPolicy(
            window_seconds=window_seconds, window_images=per_window, daily_images=per_day
        )
        for role, (per_window, per_day) in reader.read(t.LIMIT_ROLES).items()
    }
    return RolePolicies(
        default=default, overrides=overrides, exempt_roles=reader.read(t.LIMIT_EXEMPT_ROLES)
    )


def _moderation(
    reader: Reader, base_url: str, api_key: Secret | None
) -> tuple[bool, str, Secret | None]:
    """MODERATION_ENABLED, MODERATION_BASE_URL and MODERATION_API_KEY, which depend on each other.

    The endpoint defaults to the Images API's server and key. OpenAI's moderation endpoint is
    free with an OpenAI key, and a self-hosted server usually has none, so the check is on by
    default only when the endpoint is OpenAI's; that one needs a key.
    """
    url = reader.read(t.MODERATION_BASE_URL, default=base_url)
    key = reader.read(t.MODERATION_API_KEY) or api_key
    url_known = not {t.OPENAI_BASE_URL.env, t.MODERATION_BASE_URL.env} & reader.problem_names
    on_openai = url_known and _on_openai(url)
    enabled = reader.read(t.MODERATION_ENABLED, default=on_openai)
    if enabled and on_openai and key is None and t.OPENAI_API_KEY.env not in reader.problem_names:
        reader.fail(
            t.MODERATION_API_KEY.env,
            "is missing; OpenAI's moderation endpoint needs your OpenAI API key (set "
            "MODERATION_API_KEY or OPENAI_API_KEY), or set MODERATION_ENABLED=false.",
        )
    return enabled, url, key


def configure_logging(
    level: str, secrets: Iterable[Secret | None] = (), log_format: str = "text"
) -> None:
    """Set up logging once, for the whole process, hiding tokens, keys and `secrets`;
    `log_format` "json" writes one JSON object per line (see `bot.config.logs`)."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s", force=True
    )
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    # At DEBUG discord.py logs whole payloads: interaction tokens, webhook URLs, the token.
    redact.install(secret.reveal() for secret in secrets if secret)
