"""Every setting, declared once: its variable, section, default, parser and one line of help.

`Settings`, its problems, `.env.example` and the README's settings table all come from here
(`python -m bot.config --write` regenerates the two files; a test fails when they drift).
The order here is the order of both files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import bot.config.parsers as p
from bot.config.reader import Setting
from bot.downloads import parse_origins
from bot.images.profiles import FAMILIES, Family, ResponseFormat
from bot.limits.limiter import queue_capacity
from bot.limits.policy import LimitPolicy
from bot.moderation.client import DEFAULT_MODEL as DEFAULT_MODERATION_MODEL
from bot.secrets import Secret

REQUIRED = "Required"
IMAGES_API = "Images API"
MEMBERS = "Members"
LIMITS = "Limits: one community shares one paid key"
SCREENING = "Prompt screening"
DISCORD = "Discord"
INPUTS = "Limits on inputs and results"
RUNNING = "Running"

WHOLE_NUMBER = "a whole number of 1 or more"
SECONDS = "a number of seconds above 0"
BOOLEAN = "true or false"
URL = "an http(s) URL such as https://api.openai.com/v1"
# The family of the default model (a test checks that infer_family agrees).
DEFAULT_FAMILY: Family = "gpt-image-2"
# The limits layer owns its default numbers; the settings show and use them.
_POLICY = LimitPolicy()
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
EVENT_LOOPS = ("uvloop", "asyncio")

# Setting(variable, section, default, parser, expected, help, shown=...): see bot.config.reader.
# fmt: off

DISCORD_TOKEN = Setting[Secret](
    "DISCORD_TOKEN", REQUIRED, Secret(""), p.secret(),
    "the bot token from the Discord Developer Portal (Bot > Reset Token)",
    "the bot token: Discord Developer Portal > your application > Bot > Reset Token",
    shown="(required)",
)
OPENAI_API_KEY = Setting[Secret | None](
    "OPENAI_API_KEY", REQUIRED, None, p.secret(),
    "your API key from platform.openai.com (API keys)",
    "your API key (platform.openai.com > API keys); may stay empty for a self-hosted server "
    "that needs none",
    shown="(required for OpenAI)",
)

OPENAI_BASE_URL = Setting(
    "OPENAI_BASE_URL", IMAGES_API, "https://api.openai.com/v1", p.base_url, URL,
    "any OpenAI-compatible Images API, e.g. http://127.0.0.1:8080/v1 for LocalAI",
)
OPENAI_ORG_ID = Setting[str | None](
    "OPENAI_ORG_ID", IMAGES_API, None, p.text, "your organization id (org-...)",
    "your OpenAI organization (org-...), sent as `OpenAI-Organization`",
)
OPENAI_PROJECT_ID = Setting[str | None](
    "OPENAI_PROJECT_ID", IMAGES_API, None, p.text, "your project id (proj_...)",
    "your OpenAI project (proj_...), sent as `OpenAI-Project`",
)
IMAGE_MODEL = Setting(
    "IMAGE_MODEL", IMAGES_API, "gpt-image-2", p.text, "a model name such as gpt-image-2",
    "the model name sent with every request (OpenAI retired dall-e-2 and dall-e-3 on 2026-05-12)",
)
IMAGE_MODEL_FAMILY = Setting[Family | None](
    "IMAGE_MODEL_FAMILY", IMAGES_API, None, p.one_of(FAMILIES), "one of " + ", ".join(FAMILIES),
    "which API rules the model follows: " + ", ".join(FAMILIES) + "; set it when a "
    "self-hosted server names its model something else (most copy DALL-E 2: use dall-e-2)",
    shown="from `IMAGE_MODEL`",
)
IMAGE_RESPONSE_FORMAT = Setting[ResponseFormat](
    "IMAGE_RESPONSE_FORMAT", IMAGES_API, "b64_json", p.one_of(("url", "b64_json")),
    "url or b64_json",
    "DALL-E families only: ask for base64 results (b64_json) or URLs (url, downloaded at once)",
)
# The GPT image models at high quality take up to ~2 minutes for complex prompts (OpenAI's
# image guide); a timeout after the request was sent is charged and never retried, so a short
# one costs money, a long one only waiting. 300 s: 2.5x that, within the retry deadline.
IMAGES_TIMEOUT_SECONDS = Setting(
    "IMAGES_TIMEOUT_SECONDS", IMAGES_API, 300.0, p.positive_float, SECONDS,
    "seconds to wait for one answer from the Images API (an answer lost after the request "
    "was sent is charged and never retried)",
)
# Live previews on the GPT image models: the answer is streamed and the "thinking" message
# shows each partial picture. Each partial image is billed as extra output tokens (the
# `usage` of the final event shows how many); 0 turns previews (and streaming) off.
PREVIEW_PARTIAL_IMAGES = Setting(
    "PREVIEW_PARTIAL_IMAGES", IMAGES_API, 2, p.int_between(0, 3), "0 to 3",
    "GPT image models, one image asked for: partial pictures shown while it is made (each "
    "costs extra output tokens; 0 turns previews off)",
)
IMAGES_MAX_ATTEMPTS = Setting(
    "IMAGES_MAX_ATTEMPTS", IMAGES_API, 3, p.positive_int, WHOLE_NUMBER,
    "tries per request on 429 (not quota), server errors and network failures",
)
IMAGES_RETRY_DEADLINE_SECONDS = Setting(
    "IMAGES_RETRY_DEADLINE_SECONDS", IMAGES_API, 300.0, p.positive_float, SECONDS,
    "give up retrying after this many seconds in all",
)

USER_ID_SALT = Setting[Secret | None](
    "USER_ID_SALT", MEMBERS, None, p.secret(min_length=16), "at least 16 random characters",
    "secret for the pseudonymous member ids sent to the API as `user` (16+ characters); "
    "changing it resets every member's id and usage counts",
    shown="generated once in `DATA_DIR`",
)
ALLOW_DMS = Setting(
    "ALLOW_DMS", MEMBERS, False, p.boolean, BOOLEAN,
    "whether the commands work in direct messages with the bot",
)
HELP_BASE_URL = Setting(
    "HELP_BASE_URL", MEMBERS, "https://github.com/imagine-bot/imagine-bot/blob/main/README.md",
    p.base_url, "an http(s) URL of the README (or a copy of it)",
    "where /help's buttons point: the README's command sections are linked as `#imagine`, "
    "`#edit`, `#vary`, `#quota` (the default is a placeholder: set it to your copy)",
)

LIMIT_WINDOW_SECONDS = Setting(
    "LIMIT_WINDOW_SECONDS", LIMITS, _POLICY.window_seconds, p.int_between(1, 86400),
    "a number of seconds from 1 to 86400",
    "length of each member's rolling window (members are counted in images, by pseudonymous id)",
)
LIMIT_WINDOW_IMAGES = Setting(
    "LIMIT_WINDOW_IMAGES", LIMITS, _POLICY.window_images, p.positive_int,
    "a whole number of images, 1 or more",
    "images a member may make per window",
)
LIMIT_DAILY_IMAGES = Setting(
    "LIMIT_DAILY_IMAGES", LIMITS, _POLICY.daily_images, p.positive_int,
    "a whole number of images, 1 or more",
    "images a member may make per UTC day",
)
LIMIT_ROLES = Setting[Mapping[int, tuple[int, int]]](
    "LIMIT_ROLES", LIMITS, MappingProxyType({}), p.role_numbers,
    "role_id=images_per_window/images_per_day pairs separated by commas, "
    "e.g. 123456789012345678=50/200",
    "roles with other numbers: `role_id=per_window/per_day,...`; the most generous one applies",
    shown="(none)",
)
LIMIT_EXEMPT_ROLES = Setting(
    "LIMIT_EXEMPT_ROLES", LIMITS, frozenset[int](), p.snowflakes, "role ids separated by commas",
    "role ids with no personal limits (they still share the budget), comma-separated",
    shown="(none)",
)
IMAGES_PER_MINUTE = Setting(
    "IMAGES_PER_MINUTE", LIMITS, 50, p.positive_int, WHOLE_NUMBER,
    "images per minute for the whole account, shared by every process (OpenAI's default is 50)",
)
MAX_CONCURRENT_REQUESTS = Setting(
    "MAX_CONCURRENT_REQUESTS", LIMITS, 4, p.positive_int, WHOLE_NUMBER,
    "Images API calls at the same time, in all the processes sharing a Redis STATE_URL together",
)
QUEUE_MAX = Setting(
    "QUEUE_MAX", LIMITS,
    queue_capacity(IMAGES_PER_MINUTE.default, job_seconds=IMAGES_TIMEOUT_SECONDS.default),
    p.positive_int, WHOLE_NUMBER,
    "requests that may wait their turn (served round-robin across members), all together",
    shown="what `IMAGES_PER_MINUTE` starts in Discord's 15 minutes less `IMAGES_TIMEOUT_SECONDS`"
    " (500)",
)
QUEUE_MAX_PER_MEMBER = Setting(
    "QUEUE_MAX_PER_MEMBER", LIMITS, 3, p.positive_int, WHOLE_NUMBER,
    "requests one member may have waiting",
)
STATE_URL = Setting(
    "STATE_URL", LIMITS, "", p.state_url,
    "sqlite:///data/bot.db, sqlite:////absolute/path.db, redis://host:6379/0 or memory://",
    "quotas, budget and server settings: `sqlite:///...` (survives restarts), "
    "`redis://host:6379/0` (several processes share one budget) or `memory://`",
    shown="`sqlite:///<DATA_DIR>/bot.db`",
)
# A result's buttons (Re-roll, Vary, Edit) read the job's record: how long records are kept.
RESULT_ACTIONS_RETENTION_DAYS = Setting(
    "RESULT_ACTIONS_RETENTION_DAYS", LIMITS, 30, p.positive_int, WHOLE_NUMBER,
    "days a result's Re-roll button keeps working (its job record is kept that long)",
)
SERVER_LIMITS_MAY_EXCEED_DEFAULT = Setting(
    "SERVER_LIMITS_MAY_EXCEED_DEFAULT", LIMITS, False, p.boolean, BOOLEAN,
    "let server admins set limits (/imagine-settings limits) above the ones above",
)

MODERATION_ENABLED = Setting(
    "MODERATION_ENABLED", SCREENING, False, p.boolean, BOOLEAN,
    "check every prompt with a moderation endpoint (OpenAI's is free) before generating",
    shown="on when the moderation endpoint is OpenAI's",
)
MODERATION_BASE_URL = Setting(
    "MODERATION_BASE_URL", SCREENING, OPENAI_BASE_URL.default, p.base_url, URL,
    "the server whose `POST /moderations` checks prompts; https://api.openai.com/v1 uses "
    "OpenAI's with a self-hosted image server",
    shown="`OPENAI_BASE_URL`",
)
MODERATION_API_KEY = Setting[Secret | None](
    "MODERATION_API_KEY", SCREENING, None, p.secret(), "your moderation endpoint's key",
    "the key sent to the moderation endpoint (OpenAI's needs one)",
    shown="`OPENAI_API_KEY`",
)
MODERATION_MODEL = Setting(
    "MODERATION_MODEL", SCREENING, DEFAULT_MODERATION_MODEL, p.text, "a moderation model name",
    "the moderation model",
)
MODERATION_BLOCK_CATEGORIES = Setting[frozenset[str] | None](
    "MODERATION_BLOCK_CATEGORIES", SCREENING, None, p.categories,
    "moderation categories separated by commas, e.g. sexual/minors,violence/graphic",
    "only these flagged categories refuse a prompt, comma-separated "
    "(e.g. sexual/minors,violence/graphic)",
    shown="every flagged category",
)
MODERATION_FAIL_OPEN = Setting(
    "MODERATION_FAIL_OPEN", SCREENING, False, p.boolean, BOOLEAN,
    "when the moderation endpoint can't be reached: refuse the prompt (false, safe) or allow it "
    "(true)",
)

DISCORD_GUILD_ID = Setting[int | None](
    "DISCORD_GUILD_ID", DISCORD, None, p.snowflake,
    "a server id (right-click the server > Copy Server ID)",
    "register the commands to this server only (instant; good for testing) instead of to every "
    "server the bot is in (can take a while to appear)",
    shown="global",
)
SHARD_COUNT = Setting[int | None](
    "SHARD_COUNT", DISCORD, None, p.positive_int, WHOLE_NUMBER,
    "how many shards (gateway connections) the bot's servers are split into, across every "
    "process; with SHARD_IDS, several processes share the servers (they must share a Redis "
    "STATE_URL)",
    shown="one connection",
)
SHARD_IDS = Setting[tuple[int, ...] | None](
    "SHARD_IDS", DISCORD, None, p.shard_numbers,
    "shard numbers from 0 to SHARD_COUNT - 1, separated by commas",
    "the shards this process connects (Discord sends each server's events to shard "
    "`(server_id >> 22) % SHARD_COUNT`); the other processes run the rest",
    shown="all of SHARD_COUNT",
)

MAX_ATTACHMENT_BYTES = Setting(
    "MAX_ATTACHMENT_BYTES", INPUTS, 25 * 1024 * 1024, p.positive_int, "a number of bytes",
    "the largest picture (bytes) a member may give /edit or /vary",
)
# 5000x5000: a 24-megapixel camera's photo fits, and no model makes more than 3840x2160. At
# this cap the worst picture (a palette PNG with its mask, for a GPT edit) holds ~240 MiB.
MAX_IMAGE_PIXELS = Setting(
    "MAX_IMAGE_PIXELS", INPUTS, 25_000_000, p.positive_int, "a number of pixels",
    "the most pixels an uploaded picture may have (memory and decompression-bomb guard)",
)
EXTRA_ATTACHMENT_ORIGINS = Setting(
    "EXTRA_ATTACHMENT_ORIGINS", INPUTS, frozenset[str](), parse_origins,
    "origins separated by commas, e.g. https://cdn.example.org",
    "where attachments may also be downloaded from, besides Discord's CDN over HTTPS: "
    "origins (scheme://host[:port], http:// too) of a self-hosted gateway, comma-separated",
    shown="(none)",
)
MAX_RESULT_BYTES = Setting(
    "MAX_RESULT_BYTES", INPUTS, 50 * 1024 * 1024, p.positive_int, "a number of bytes",
    "the largest image (bytes) accepted from a URL result",
)

DATA_DIR = Setting(
    "DATA_DIR", RUNNING, Path("data"), Path, "a folder path",
    "where the bot keeps its state: the salt, the database, undelivered images; what it "
    "creates there is private (folders 0700, files 0600; `chmod -R go= data` tightens an "
    "older folder)",
)
LOG_LEVEL = Setting(
    "LOG_LEVEL", RUNNING, "INFO", p.one_of(LOG_LEVELS, str.upper),
    "one of " + ", ".join(LOG_LEVELS),
    "logging level: " + ", ".join(LOG_LEVELS) + "; DEBUG logs whole Discord payloads, prompts "
    "included (tokens and keys are redacted)",
)
LOG_FORMAT = Setting(
    "LOG_FORMAT", RUNNING, "text", p.one_of(LOG_FORMATS, str.lower),
    "one of " + ", ".join(LOG_FORMATS),
    "text (one readable line per record) or json (one JSON object per line, for log "
    "collectors); tokens and keys are redacted in both",
)
METRICS_ADDR = Setting[tuple[str, int] | None](
    "METRICS_ADDR", RUNNING, None, p.host_port, "host:port, for example 127.0.0.1:9108",
    "serve /healthz (gateway connected, state store reachable) and /metrics (Prometheus) on "
    "this address; 0.0.0.0:9108 inside a container",
    shown="off",
)
EVENT_LOOP = Setting(
    "EVENT_LOOP", RUNNING, "uvloop", p.one_of(EVENT_LOOPS, str.lower),
    "one of " + ", ".join(EVENT_LOOPS),
    "the event loop: uvloop (faster: a burst of commands is deferred sooner) or asyncio (the "
    "standard library's, used anyway where uvloop is not installed, as on Windows)",
)
SHUTDOWN_GRACE_SECONDS = Setting(
    "SHUTDOWN_GRACE_SECONDS", RUNNING, 60.0, p.non_negative_float, "a number of seconds, 0 or more",
    "on shutdown, how long running jobs may take to finish before they are cancelled",
)
# fmt: on

# Every declaration above, in order.
SETTINGS: tuple[Setting[Any], ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Setting)
)
