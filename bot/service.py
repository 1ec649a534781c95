"""The core of every command: check the inputs, call the Images API, hand back the images.

Cogs parse and defer; this module does the slow, careful part. It never imports a cog and
knows nothing of slash commands: a member is a `Member`, an attachment an `Upload`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from bot import imaging
from bot.config import Settings
from bot.downloads import (
    DISCORD_CDN_ORIGINS,
    DownloadError,
    DownloadRefused,
    DownloadTooLarge,
    check_origin,
    download,
)
from bot.errors import InvalidInput, Problem, UserFacingError
from bot.images.client import ImagesClient
from bot.images.errors import ContentPolicyViolation, ImagesError
from bot.images.profiles import ModelProfile
from bot.images.requests import ImageOptions, InputImage
from bot.images.results import ImagesResult
from bot.images.stream import OnPartial
from bot.limits import Limiter, Policy, Reservation, RolePolicies, Usage, Withdrawal, Withdrawn
from bot.limits.queue import PositionCallback
from bot.memory import BUDGET_BYTES, RESULT_WAIT_MAX, MemoryBudget, result_bytes
from bot.moderation import (
    ModerationClient,
    ServerSettings,
    ServerSettingsStore,
    check_access,
    refused_by_provider,
    screen,
)
from bot.records import OwedImage, TrackedJob

log = logging.getLogger(__name__)

# What /vary asks a model that has no variations endpoint (the GPT image models) to do.
VARIATION_PROMPT = (
    "Create a variation of this image: keep its subject, "  # i18n: not for members
    "composition, colours and style, and vary the details."
)
# The caption's note then (a catalogue key: the front writes it in the member's language).
VARIATION_NOTE = "caption.variation_by_edit"
_DOWNLOAD_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Member:
    """Who asked: the pseudonymous key (the API's `user`, the limits' key) and their roles."""

    key: str
    discord_id: int
    role_ids: tuple[int, ...] = ()
    guild_id: int | None = None
    channel_id: int | None = None
    parent_channel_id: int | None = None  # a thread's channel
    channel_nsfw: bool = False  # the channel's (a thread's parent's) age restriction


@dataclass(frozen=True, slots=True)
class Upload:
    """An attachment as Discord describes it. Size and type are hints, checked again later."""

    what: str  # "image" or "mask", as the member knows the option
    url: str
    filename: str
    size: int
    content_type: str | None = None


Stage = Literal["generating", "posting", "stopped"]


@dataclass(frozen=True, slots=True)
class Job:
    """One command's run: who asked, the quota held for it, who hears its place in line, its
    stages (its turn came: "generating"; the images are in: "posting"; it failed or was
    cancelled: "stopped") and its previews, and
    its way out of the line while it waits (`withdrawal`, a member's Cancel)."""

    member: Member
    held: Reservation
    on_position: PositionCallback | None = None
    tracked: TrackedJob | None = None  # its record, moved on as it goes (crash recovery)
    on_stage: Callable[[Stage], Awaitable[object]] | None = None
    on_partial: OnPartial | None = None
    withdrawal: Withdrawal = field(default_factory=Withdrawal)


class Cancelled(Exception):
    """The job was withdrawn before its request was sent, so nothing was paid: its quota is
    refunded. `by`: who withdrew it, as the front named them (e.g. a Discord user id)."""

    def __init__(self, by: object) -> None:
        super().__init__("cancelled before the request was sent")  # i18n: not for members
        self.by = by


@dataclass(frozen=True, slots=True)
class Variation:
    """The images of /vary, and a note (a catalogue key) when they came from an edit instead."""

    result: ImagesResult
    note: str | None


async def _tell(job: Job, stage: Stage) -> None:
    if job.on_stage is not None:
        await job.on_stage(stage)


def _not_from_discord(upload: Upload, refused: DownloadRefused) -> Problem:
    """Logs where a refused attachment pointed (its origin only: the rest of the URL is the
    member's), and says what the member can do."""
    log.warning("refused a %s attachment from %s", upload.what, refused.origin or "no http(s) URL")
    return _about(upload, "not_from_discord")


def _about(upload: Upload, name: str, /, **fields: object) -> Problem:
    """The message `name` about an attachment (`downloads.image.<name>`, `downloads.mask...`)."""
    return UserFacingError.of(f"downloads.{upload.what}.{name}", **fields)


def _owed(result: ImagesResult) -> list[OwedImage]:
    return [
        OwedImage(f"{index}.{image.filename_extension}", image.data)
        for index, image in enumerate(result.images, start=1)
    ]


def _size_text(size: int) -> str:
    """`size` bytes in MB, as the messages write it before their " MB"."""
    return f"{size / (1024 * 1024):.1f}"


class ImageService:
    """Turns checked member requests into images."""

    def __init__(
        self,
        client: ImagesClient,
        session: aiohttp.ClientSession,
        limiter: Limiter,
        settings: Settings,
        *,
        servers: ServerSettingsStore,
        moderation: ModerationClient | None = None,
    ) -> None:
        self.client = client
        self.session = session
        self.limiter = limiter
        self.servers = servers
        self.moderation = moderation
        self.profile: ModelProfile = client.profile
        self.policies: RolePolicies = settings.role_policies
        self.dms_allowed = settings.allow_dms
        self.may_exceed_default = settings.server_limits_may_exceed_default
        self.limits = imaging.Limits(
            max_bytes=settings.max_attachment_bytes, max_pixels=settings.max_image_pixels
        )
        self.attachment_origins = DISCORD_CDN_ORIGINS | settings.extra_attachment_origins
        # Decoded attachments and result images, all jobs together, against one byte budget.
        self.memory = MemoryBudget(BUDGET_BYTES)
        self._room_wait = min(RESULT_WAIT_MAX, settings.request_timeout / 3)

    def check_upload(self, upload: Upload) -> None:
        """The cheap checks on an attachment, from what Discord says of it (before deferring).

        Only the declared size counts here: the declared type and the file name are hints that
        a client sets as it likes, so a picture is judged by its bytes once downloaded."""
        problems = []
        if upload.size > self.limits.max_bytes:
            size, limit = _size_text(upload.size), _size_text(self.limits.max_bytes)
            problems.append(_about(upload, "too_large", size=size, limit=limit))
        try:
            check_origin(upload.url, self.attachment_origins)
        except DownloadRefused as exc:
            problems.append(_not_from_discord(upload, exc))
        if problems:
            raise InvalidInput(problems)

    async def fetch(self, upload: Upload) -> bytes:
        """Download an attachment, refusing more than the byte cap while streaming."""
        try:
            return await download(
                self.session,
                upload.url,
                max_bytes=self.limits.max_bytes,
                timeout=_DOWNLOAD_TIMEOUT,
                origins=self.attachment_origins,
            )
        except DownloadRefused as exc:
            raise InvalidInput([_not_from_discord(upload, exc)]) from exc
        except DownloadTooLarge as exc:
            raise InvalidInput(
                [_about(upload, "larger_than", limit=_size_text(exc.limit))]
            ) from exc
        except DownloadError as exc:
            log.warning("could not download the %s attachment: %s", upload.what, exc)
            raise UserFacingError(_about(upload, "failed")) from exc

    async def server_settings(self, member: Member) -> ServerSettings | None:
        """The settings of the server the member is on (None in direct messages)."""
        if member.guild_id is None:
            return None
        return await self.servers.get(member.guild_id)

    async def admit(self, member: Member, prompt: str | None) -> ServerSettings | None:
        """May the member use the commands here, with this prompt? The cheap layers only
        (access rules, the server's blocked terms): raises `AccessDenied` or `PromptRefused`
        before anything is reserved. Returns the server's settings for `reserve`."""
        settings = await self.server_settings(member)
        check_access(
            settings,
            channel_id=member.channel_id,
            channel_is_nsfw=member.channel_nsfw,
            role_ids=member.role_ids,
            is_dm=member.guild_id is None,
            dms_allowed=self.dms_allowed,
            member_key=member.key,
            now=time.time(),
            parent_channel_id=member.parent_channel_id,
        )
        if prompt is not None:
            await screen(prompt, settings, None)
        return settings

    def _policy(self, member: Member, settings: ServerSettings | None) -> Policy:
        policies = self.policies
        if settings is not None:
            policies = settings.role_policies(policies, may_exceed_default=self.may_exceed_default)
        return policies.resolve(member.role_ids)

    async def reserve(
        self, member: Member, images: int, settings: ServerSettings | None = None
    ) -> Reservation:
        """Hold `images` of the member's quota, or raise a limit error they can read.

        Called before the command defers, so a refusal is private and immediate. The
        reservation is refunded if the job fails or is cancelled, committed once it succeeds.
        `settings`: the server's, whose limits (if set) replace the configured default.
        """
        self.limiter.check_room(member.key, images=images)
        policy = self._policy(member, settings)
        return await self.limiter.reserve(member.key, images=images, policy=policy)

    async def usage(self, member: Member) -> Usage:
        """The member's quota now, for /quota."""
        settings = await self.server_settings(member)
        return await self.limiter.usage(member.key, self._policy(member, settings))

    async def _moderate(self, prompt: str) -> None:
        """The moderation endpoint's check, after deferring (it is a network call); a refusal
        raises inside the reservation, which refunds it."""
        if self.moderation is not None:
            await screen(prompt, None, self.moderation)

    async def generate(self, job: Job, prompt: str, options: ImageOptions) -> ImagesResult:
        """Images from a prompt."""
        async with job.held:
            await self._moderate(prompt)
            request = functools.partial(
                self.client.generate, prompt=prompt, on_partial=job.on_partial
            )
            return await self._call(job, options, request)

    async def edit(
        self, job: Job, image: Upload, mask: Upload | None, prompt: str, options: ImageOptions
    ) -> ImagesResult:
        """An edit of `image`, limited to the area `mask` marks (if any)."""
        async with job.held:
            await self._moderate(prompt)
            prepared, prepared_mask = await self._prepare_edit(image, mask)
            request = functools.partial(
                self.client.edit,
                images=[prepared],
                mask=prepared_mask,
                prompt=prompt,
                on_partial=job.on_partial,
            )
            return await self._call(job, options, request)

    async def create_variation(self, job: Job, image: Upload, options: ImageOptions) -> Variation:
        """Variations of `image`; an edit asking for a variation where the model has none."""
        request: Callable[..., Awaitable[ImagesResult]]
        async with job.held:
            if self.profile.supports_variations:
                prepared = await self._prepare_variation(image)
                request = functools.partial(self.client.create_variation, image=prepared)
                note = None
            else:
                prepared, _ = await self._prepare_edit(image, None)
                request = functools.partial(
                    self.client.edit,
                    images=[prepared],
                    prompt=VARIATION_PROMPT,
                    on_partial=job.on_partial,
                )
                note = VARIATION_NOTE
            result = await self._call(job, options, request)
            return Variation(result, note)

    async def _prepare_edit(
        self, image: Upload, mask: Upload | None
    ) -> tuple[InputImage, InputImage | None]:
        """Download the image (and mask) and make them what the model takes."""
        if mask is None:
            image_bytes = await self.fetch(image)
            mask_bytes = None
        else:
            image_bytes, mask_bytes = await asyncio.gather(self.fetch(image), self.fetch(mask))
        cost = await asyncio.to_thread(
            imaging.preparation_cost, image_bytes, mask_bytes, self.profile, "edit", self.limits
        )
        return await self.memory.run_in_thread(
            cost, imaging.prepare_edit, image_bytes, mask_bytes, self.profile, self.limits
        )

    async def _prepare_variation(self, image: Upload) -> InputImage:
        """Download the image and make it what the model's variations take."""
        data = await self.fetch(image)
        cost = await asyncio.to_thread(
            imaging.preparation_cost, data, None, self.profile, "variation", self.limits
        )
        return await self.memory.run_in_thread(
            cost, imaging.prepare_variation, data, self.profile, self.limits
        )

    async def _call(
        self, job: Job, options: ImageOptions, request: Callable[..., Awaitable[ImagesResult]]
    ) -> ImagesResult:
        """`request` (an Images client method) for the member, in their turn, with memory
        for the answer; the reservation is committed once the images are in. The job's record
        says "sent" before the request goes and keeps the images once they are in, so that a
        crash in between is resolved as the API would charge it (bot.records)."""
        try:
            async with self._turn(job, options.n):
                await _tell(job, "generating")
                if job.tracked is not None:
                    await job.tracked.sending()
                try:
                    result = await request(
                        user=job.member.key,
                        options=options,
                        before_reading=self._room_for(options),
                    )
                except ImagesError as err:
                    if err.maybe_paid:  # charged as the API charges a request it carried out
                        await job.held.commit()
                    raise
        except BaseException:
            await _tell(job, "stopped")
            raise
        if job.tracked is not None:
            await job.tracked.answered(_owed(result), request_id=result.request_id)
        await job.held.commit()
        await _tell(job, "posting")
        return result

    def _room_for(self, options: ImageOptions) -> Callable[[], Awaitable[None]]:
        """Waits for memory for the result's images once the answer arrived; the bytes are the
        job's until its task ends (the images posted by the cog, or the job failed)."""
        need = result_bytes(options.n, options.size)
        return functools.partial(self.memory.take, need, timeout=self._room_wait)

    @asynccontextmanager
    async def _turn(self, job: Job, images: int) -> AsyncIterator[None]:
        """A running place and budget for the upstream call, inside which the Images API's
        own content-policy refusal becomes the third screening layer's. A member who was
        told a queue position hears position 0 when their turn comes. A job withdrawn before
        its turn raises `Cancelled`."""
        on_position = job.on_position
        told = False
        listener: PositionCallback | None = None
        if on_position is not None:
            report = on_position

            async def listener(position: int) -> None:
                nonlocal told
                told = True
                await report(position)

        # No callback when nobody listens: the queue then skips working out places at all.
        try:
            async with self.limiter.turn(
                job.member.key, images=images, on_position=listener, withdrawal=job.withdrawal
            ):
                if told and on_position is not None:
                    await on_position(0)
                try:
                    yield
                except ContentPolicyViolation as exc:
                    raise refused_by_provider(exc) from exc
        except Withdrawn as withdrawn:
            raise Cancelled(withdrawn.by) from None
