"""The bot's settings: one typed, frozen object built once at start-up from the environment.

`Settings.from_env` reads a mapping (normally `os.environ` after `.env` was loaded by
`__main__`) and either returns the settings or raises `ConfigError` listing every problem at
once, each with how to fix it. Secrets are `Secret`s, so the settings' repr masks them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import urlsplit

from bot.images.profiles import (
    FAMILIES,
    Family,
    ModelProfile,
    ResponseFormat,
    build_profile,
    infer_family,
)
from bot.limits.policy import LimitPolicy, RolePolicies
from bot.moderation.client import DEFAULT_MODEL as DEFAULT_MODERATION_MODEL
from bot.moderation.client import MODERATION_CATEGORIES
from bot.secrets import Secret
from bot.state import parse_state_url

T = TypeVar("T")

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-image-2"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_EVENT_LOOPS = ("uvloop", "asyncio")


class ConfigError(Exception):
    """One or more settings are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def report(self) -> str:
        """The text printed at start-up: every problem, then where settings come from."""
        lines = ["imagine-bot can't start: the settings need attention.", ""]
        lines += [f"  - {problem}" for problem in self.problems]
        lines += [
            "",
            "Set these in the environment or in a .env file next to where you run the bot",
            "(copy .env.example to .env to start). README.md lists every setting.",
        ]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, typed. See `.env.example` for what each one means."""

    discord_token: Secret
    openai_api_key: Secret | None
    openai_base_url: str = OPENAI_BASE_URL
    openai_org_id: str | None = None
    openai_project_id: str | None = None
    image_model: str = DEFAULT_MODEL
    image_model_family: Family = "gpt-image-2"
    image_response_format: ResponseFormat = "b64_json"
    request_timeout: float = 180.0
    max_attempts: int = 3
    retry_deadline: float = 300.0
    user_id_salt: Secret | None = None
    data_dir: Path = Path("data")
    discord_guild_id: int | None = None
    log_level: str = "INFO"
    event_loop: str = "uvloop"
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_result_bytes: int = 50 * 1024 * 1024
    shutdown_grace: float = 60.0
    allow_dms: bool = False
    # Not in the repr: a Redis URL may carry a password.
    state_url: str = dataclasses.field(default="sqlite:///data/bot.db", repr=False)
    role_policies: RolePolicies = dataclasses.field(default_factory=RolePolicies)
    images_per_minute: int = 50
    max_concurrent_requests: int = 4
    queue_max: int = 20
    queue_max_per_member: int = 3
    moderation_enabled: bool = False
    moderation_base_url: str = OPENAI_BASE_URL
    moderation_api_key: Secret | None = None
    moderation_model: str = DEFAULT_MODERATION_MODEL
    moderation_block_categories: frozenset[str] | None = None
    moderation_fail_open: bool = False
    server_limits_may_exceed_default: bool = False

    @property
    def profile(self) -> ModelProfile:
        """The request rules of the configured model."""
        return build_profile(
            self.image_model_family, self.image_model, response_format=self.image_response_format
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build the settings from `env`, or raise `ConfigError` listing every problem."""
        reader = _Reader(env)
        token = reader.secret(
            "DISCORD_TOKEN",
            required=True,
            hint="the bot token from the Discord Developer Portal (Bot > Reset Token)",
        )
        base_url = reader.get(
            "OPENAI_BASE_URL",
            OPENAI_BASE_URL,
            _parse_base_url,
            "an http(s) URL such as https://api.openai.com/v1",
        )
        # A self-hosted server may need no key; OpenAI itself always does.
        key_required = (
            urlsplit(base_url).hostname == "api.openai.com"
            and "OPENAI_BASE_URL" not in reader.problem_names
        )
        api_key = reader.secret(
            "OPENAI_API_KEY",
            required=key_required,
            hint="your API key from platform.openai.com (API keys)",
        )
        model = reader.get(
            "IMAGE_MODEL", DEFAULT_MODEL, _non_empty, "a model name such as gpt-image-2"
        )
        family = reader.get(
            "IMAGE_MODEL_FAMILY", None, _parse_family, "one of " + ", ".join(FAMILIES)
        )
        if family is None:
            family = infer_family(model)
            if family is None and "IMAGE_MODEL" not in reader.problem_names:
                reader.problems.append(
                    f"IMAGE_MODEL_FAMILY: can't tell which API rules the model {model!r} follows. "
                    f"Set IMAGE_MODEL_FAMILY to one of {', '.join(FAMILIES)} "
                    "(a self-hosted server that copies DALL-E 2 is usually dall-e-2)."
                )
        data_dir = reader.get("DATA_DIR", Path("data"), Path, "a folder path")
        moderation_enabled, moderation_url, moderation_key = _moderation(
            reader, base_url=base_url, api_key=api_key
        )
        settings = dict(
            discord_token=token,
            openai_api_key=api_key,
            openai_base_url=base_url,
            openai_org_id=reader.get(
                "OPENAI_ORG_ID", None, _non_empty, "your organization id (org-...)"
            ),
            openai_project_id=reader.get(
                "OPENAI_PROJECT_ID", None, _non_empty, "your project id (proj_...)"
            ),
            image_model=model,
            image_model_family=family or "gpt-image-2",
            image_response_format=reader.get(
                "IMAGE_RESPONSE_FORMAT", "b64_json", _parse_response_format, "url or b64_json"
            ),
            request_timeout=reader.get(
                "IMAGES_TIMEOUT_SECONDS", 180.0, _positive_float, "a number of seconds above 0"
            ),
            max_attempts=reader.get(
                "IMAGES_MAX_ATTEMPTS", 3, _positive_int, "a whole number of 1 or more"
            ),
            retry_deadline=reader.get(
                "IMAGES_RETRY_DEADLINE_SECONDS",
                300.0,
                _positive_float,
                "a number of seconds above 0",
            ),
            user_id_salt=reader.secret("USER_ID_SALT", required=False, hint="", min_length=16),
            data_dir=data_dir,
            discord_guild_id=reader.get(
                "DISCORD_GUILD_ID",
                None,
                _snowflake,
                "a server id (right-click the server > Copy Server ID)",
            ),
            log_level=reader.get(
                "LOG_LEVEL", "INFO", _parse_log_level, "one of " + ", ".join(_LOG_LEVELS)
            ),
            event_loop=reader.get(
                "EVENT_LOOP", "uvloop", _parse_event_loop, "one of " + ", ".join(_EVENT_LOOPS)
            ),
            max_attachment_bytes=reader.get(
                "MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024, _positive_int, "a number of bytes"
            ),
            max_image_pixels=reader.get(
                "MAX_IMAGE_PIXELS", 40_000_000, _positive_int, "a number of pixels"
            ),
            max_result_bytes=reader.get(
                "MAX_RESULT_BYTES", 50 * 1024 * 1024, _positive_int, "a number of bytes"
            ),
            shutdown_grace=reader.get(
                "SHUTDOWN_GRACE_SECONDS",
                60.0,
                _non_negative_float,
                "a number of seconds, 0 or more",
            ),
            allow_dms=reader.get("ALLOW_DMS", False, _parse_bool, "true or false"),
            state_url=reader.get(
                "STATE_URL",
                f"sqlite:///{data_dir / 'bot.db'}",
                _parse_state_url,
                "sqlite:///data/bot.db, sqlite:////absolute/path.db, redis://host:6379/0 "
                "or memory://",
            ),
            role_policies=_role_policies(reader),
            images_per_minute=reader.get(
                "IMAGES_PER_MINUTE", 50, _positive_int, "a whole number of 1 or more"
            ),
            max_concurrent_requests=reader.get(
                "MAX_CONCURRENT_REQUESTS", 4, _positive_int, "a whole number of 1 or more"
            ),
            queue_max=reader.get("QUEUE_MAX", 20, _positive_int, "a whole number of 1 or more"),
            queue_max_per_member=reader.get(
                "QUEUE_MAX_PER_MEMBER", 3, _positive_int, "a whole number of 1 or more"
            ),
            moderation_enabled=moderation_enabled,
            moderation_base_url=moderation_url,
            moderation_api_key=moderation_key,
            moderation_model=reader.get(
                "MODERATION_MODEL", DEFAULT_MODERATION_MODEL, _non_empty, "a moderation model name"
            ),
            moderation_block_categories=reader.get(
                "MODERATION_BLOCK_CATEGORIES",
                None,
                _parse_categories,
                "moderation categories separated by commas, e.g. sexual/minors,violence/graphic",
            ),
            moderation_fail_open=reader.get(
                "MODERATION_FAIL_OPEN", False, _parse_bool, "true or false"
            ),
            server_limits_may_exceed_default=reader.get(
                "SERVER_LIMITS_MAY_EXCEED_DEFAULT", False, _parse_bool, "true or false"
            ),
        )
        if reader.problems:
            raise ConfigError(reader.problems)
        return cls(**settings)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        """A copy with some settings changed (tests and benchmarks)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class _Reader:
    """Reads settings one by one, collecting every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self.problem_names: set[str] = set()

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def _fail(self, name: str, text: str) -> None:
        self.problems.append(f"{name}: {text}")
        self.problem_names.add(name)

    def get(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            # Never echo the value: a secret pasted into the wrong variable must not be printed.
            self._fail(name, f"has a value that isn't valid; expected {expected}.")
            return default

    def secret(self, name: str, *, required: bool, hint: str, min_length: int = 1) -> Secret | None:
        raw = self._raw(name)
        if raw is None:
            if required:
                self._fail(name, f"is missing; set it to {hint}.")
            return None
        if len(raw) < min_length:
            self._fail(name, f"is too short; use at least {min_length} random characters.")
        return Secret(raw)


def _non_empty(raw: str) -> str:
    return raw


def _parse_base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    return raw.rstrip("/")


def _parse_family(raw: str) -> Family:
    for family in FAMILIES:
        if raw == family:
            return family
    raise ValueError(raw)


def _parse_response_format(raw: str) -> ResponseFormat:
    if raw not in ("url", "b64_json"):
        raise ValueError(raw)
    return cast(ResponseFormat, raw)


def _parse_log_level(raw: str) -> str:
    level = raw.upper()
    if level not in _LOG_LEVELS:
        raise ValueError(raw)
    return level


def _parse_event_loop(raw: str) -> str:
    loop = raw.lower()
    if loop not in _EVENT_LOOPS:
        raise ValueError(raw)
    return loop


def _parse_state_url(raw: str) -> str:
    # The stores' own parser (it opens nothing), so a URL passes here only if it can be used.
    parse_state_url(raw)
    return raw


def _role_ids(raw: str) -> frozenset[int]:
    return frozenset(_snowflake(part.strip()) for part in raw.split(",") if part.strip())


def _role_policies(reader: _Reader) -> RolePolicies:
    """LIMIT_* settings: the default policy, per-role overrides and exempt roles."""
    window_seconds = reader.get(
        "LIMIT_WINDOW_SECONDS", 3600, _window_seconds, "a number of seconds from 1 to 86400"
    )
    window_images = reader.get(
        "LIMIT_WINDOW_IMAGES", 10, _positive_int, "a whole number of images, 1 or more"
    )
    daily_images = reader.get(
        "LIMIT_DAILY_IMAGES", 30, _positive_int, "a whole number of images, 1 or more"
    )
    default = LimitPolicy(
        window_seconds=window_seconds, window_images=window_images, daily_images=daily_images
    )

    def overrides(raw: str) -> dict[int, LimitPolicy]:
        result: dict[int, LimitPolicy] = {}
        for part in raw.split(","):
            if not part.strip():
                continue
            role, _, numbers = part.partition("=")
            per_window, _, per_day = numbers.partition("/")
            result[_snowflake(role.strip())] = LimitPolicy(
                window_seconds=window_seconds,
                window_images=_positive_int(per_window.strip()),
                daily_images=_positive_int(per_day.strip()),
            )
        return result

    return RolePolicies(
        default=default,
        overrides=reader.get(
            "LIMIT_ROLES",
            {},
            overrides,
            "role_id=images_per_window/images_per_day pairs separated by commas, "
            "e.g. 123456789012345678=50/200",
        ),
        exempt_roles=reader.get(
            "LIMIT_EXEMPT_ROLES", frozenset(), _role_ids, "role ids separated by commas"
        ),
    )


def _moderation(
    reader: _Reader, *, base_url: str, api_key: Secret | None
) -> tuple[bool, str, Secret | None]:
    """MODERATION_ENABLED, MODERATION_BASE_URL and MODERATION_API_KEY, which depend on each other.

    The endpoint defaults to the Images API's server and key. OpenAI's moderation endpoint is
    free with an OpenAI key, and a self-hosted server usually has none, so the check is on by
    default only when the endpoint is OpenAI's; that one needs a key.
    """
    url = reader.get(
        "MODERATION_BASE_URL",
        base_url,
        _parse_base_url,
        "an http(s) URL such as https://api.openai.com/v1",
    )
    key = reader.secret("MODERATION_API_KEY", required=False, hint="") or api_key
    url_known = not {"OPENAI_BASE_URL", "MODERATION_BASE_URL"} & reader.problem_names
    on_openai = url_known and urlsplit(url).hostname == "api.openai.com"
    enabled = reader.get("MODERATION_ENABLED", on_openai, _parse_bool, "true or false")
    if enabled and on_openai and key is None and "OPENAI_API_KEY" not in reader.problem_names:
        reader._fail(
            "MODERATION_API_KEY",
            "is missing; OpenAI's moderation endpoint needs your OpenAI API key (set "
            "MODERATION_API_KEY or OPENAI_API_KEY), or set MODERATION_ENABLED=false.",
        )
    return enabled, url, key


def _window_seconds(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 86400:
        raise ValueError(raw)
    return value


def _parse_categories(raw: str) -> frozenset[str]:
    categories = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    if not categories or not categories <= set(MODERATION_CATEGORIES):
        raise ValueError(raw)
    return categories


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def _snowflake(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def configure_logging(level: str) -> None:
    """Set up logging once, for the whole process."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s", force=True
    )
