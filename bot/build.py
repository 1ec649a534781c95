"""The place that builds everything: every part of the core, constructed from the Settings.

The parts take plain values, never `Settings`, so each can be built and tested alone; only this
module knows which setting feeds which part. The entry point (`bot.__main__`) owns the one
aiohttp session and hands it in, then gives the parts to the Discord front. It sits at the top
with the entry point: it may import every layer; nothing else in bot/ or cogs/ imports it.
"""

from __future__ import annotations

from typing import Literal

import aiohttp

from bot import imaging
from bot.config import Settings
from bot.front.parts import Parts
from bot.identity import MemberIds, load_or_create_salt
from bot.images.client import ImagesClient
from bot.limits import Limiter, open_store, queue_capacity
from bot.moderation import ModerationClient, open_server_settings
from bot.moderation.client import DEFAULT_RETRY as MODERATION_RETRY
from bot.moderation.client import DEFAULT_TIMEOUT as MODERATION_TIMEOUT
from bot.records import open_records
from bot.retry import RetryPolicy
from bot.service import ImageService
from bot.transport import Transport


def build(settings: Settings, session: aiohttp.ClientSession) -> Parts:
    """Every part the settings describe, on the process's one session; nothing is opened yet."""
    store = open_store(settings.state_url)
    limiter = Limiter(
        store,
        images_per_minute=settings.images_per_minute,
        max_concurrent=settings.max_concurrent_requests,
        max_waiting=settings.queue_max,
        max_waiting_per_member=settings.queue_max_per_member,
        max_waiting_images=queue_capacity(
            settings.images_per_minute, job_seconds=settings.request_timeout
        ),
    )
    images = images_client(session, settings)
    # A 429 that is not about quota pauses the shared budget, holding back other processes too.
    images.on_rate_limited = limiter.pause_for
    # Server settings share the state store's URL: their own table or keys beside the quotas.
    server_settings = open_server_settings(settings.state_url)
    service = ImageService(
        images,
        session,
        limiter,
        settings,
        servers=server_settings,
        moderation=moderation_client(session, settings),
    )
    return Parts(
        store=store,
        limiter=limiter,
        images=images,
        member_ids=member_ids(settings),
        server_settings=server_settings,
        service=service,
        records=open_records(settings.state_url),  # job records, beside the quotas
    )


def images_client(session: aiohttp.ClientSession, settings: Settings) -> ImagesClient:
    """The Images API client the settings describe."""
    return ImagesClient(
        _transport(session, settings, "images"),
        profile=settings.profile,
        max_result_bytes=settings.max_result_bytes,
        partial_images=settings.preview_partial_images,
    )


def moderation_client(
    session: aiohttp.ClientSession, settings: Settings
) -> ModerationClient | None:
    """The moderation (prompt screening) client, or None when screening is turned off."""
    if not settings.moderation_enabled:
        return None
    return ModerationClient(
        _transport(session, settings, "moderation"),
        model=settings.moderation_model,
        block_categories=settings.moderation_block_categories,
        fail_open=settings.moderation_fail_open,
    )


def _transport(
    session: aiohttp.ClientSession, settings: Settings, api: Literal["images", "moderation"]
) -> Transport:
    """Where an OpenAI-compatible client sends its calls and as whom: the organisation and
    project ids are one account's, the same for the Images API and the moderation endpoint."""
    if api == "images":
        base_url, api_key = settings.openai_base_url, settings.openai_api_key
        timeout = settings.request_timeout
        retry = RetryPolicy(settings.max_attempts, settings.retry_deadline)
    else:
        base_url, api_key = settings.moderation_base_url, settings.moderation_api_key
        timeout, retry = MODERATION_TIMEOUT, MODERATION_RETRY
    return Transport(
        session,
        base_url=base_url,
        api_key=api_key,
        organization=settings.openai_org_id,
        project=settings.openai_project_id,
        timeout=timeout,
        retry=retry,
    )


# Connections beside the Images API calls: attachment downloads and moderation checks.
_SIDE_CONNECTIONS = 16


def connector(settings: Settings) -> aiohttp.TCPConnector:
    """The shared session's connection pool, sized from the settings: aiohttp's default of 100
    would cap the Images API calls at 100 whatever `MAX_CONCURRENT_REQUESTS` allows."""
    return aiohttp.TCPConnector(limit=settings.max_concurrent_requests + _SIDE_CONNECTIONS)


def attachment_limits(settings: Settings) -> imaging.Limits:
    """What any attachment may weigh and hold: MAX_ATTACHMENT_BYTES and MAX_IMAGE_PIXELS."""
    return imaging.Limits(
        max_bytes=settings.max_attachment_bytes, max_pixels=settings.max_image_pixels
    )


def member_ids(settings: Settings) -> MemberIds:
    """Member keys salted with USER_ID_SALT, else with the salt kept in the data folder."""
    salt = settings.user_id_salt
    return MemberIds(salt.reveal().encode() if salt else load_or_create_salt(settings.data_dir))
