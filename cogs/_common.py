"""What the three image commands share: options built from the model profile, and the run.

Each command declares its options beside it, in the order Discord shows them. The image
options (n, size, quality, style ...) depend on the configured model family, so they are
named there and built when the cog loads, from the profile and the table below, rather than
written as fixed decorators: Discord's own UI then offers only the model's valid choices.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.errors import InvalidInput, Problem, Said, UserFacingError
from bot.front import progress
from bot.front.caption import Caption
from bot.front.delivery import deliver
from bot.front.handover import offer_owed
from bot.front.i18n import member_locale
from bot.front.tracking import settle_soon, track_job
from bot.images.profiles import ChoiceField, ModelProfile, Operation
from bot.images.requests import ImageOptions
from bot.images.results import ImagesResult
from bot.moderation.events import Generated
from bot.service import Job, Member, Upload, Variation
from cogs.actions_items import result_controls
from cogs.actions_record import remember
from cogs.modlog import result_view, server_words

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord caps a STRING option at 6000 characters; longer prompts cannot be typed anyway.
DISCORD_STRING_MAX = 6000
# The longest a deferred job lets newer commands defer first (a burst's deferrals take a
# fraction of a second; Discord allows 3 s for them).
FIRST_ANSWERS_WAIT = 1.0

# The image options a command may name in `model_options`, and what Discord shows for them;
# which of them a command offers, and their choices and ranges, come from the model profile.
ModelOption = Literal["n", "size", "output_compression"] | ChoiceField
_SIZE_LABELS = {"auto": "auto (the model picks)"}
_CHOICE_LABELS: Mapping[str, Mapping[str, str]] = {
    "quality": {"auto": "auto (the model picks)", "hd": "hd (finer detail)"},
    "background": {"transparent": "transparent (PNG or WebP only)"},
    "moderation": {"low": "low (less strict filtering)"},
    "input_fidelity": {"high": "high (keep faces and details closer)"},
}
_DESCRIPTIONS = {
    "n": "How many images to make",
    "size": "Image size in pixels (width x height)",
    "quality": "Image quality; higher takes longer",
    "style": "vivid is dramatic and hyper-real; natural is more realistic",
    "background": "Background of the image",
    "output_format": "File format of the result",
    "output_compression": "Compression for jpeg or webp results, 0-100 (100 = best quality)",
    "moderation": "How strictly the provider filters content",
    "input_fidelity": "How closely the result keeps the details of your image",
}


@dataclass(frozen=True, slots=True)
class Option:
    """One slash-command option: its type annotation, default, description and choices."""

    name: str
    annotation: Any
    description: str | locale_str
    default: Any = inspect.Parameter.empty
    choices: tuple[app_commands.Choice[str], ...] = ()


# An option a command declares: fixed, or made from the model profile for the operation the
# command runs (None: the model has no such option there, and the command doesn't offer it).
Declared = Option | Callable[[ModelProfile, Operation], Option | None]


def prompt_option(description: str) -> Declared:
    """The required prompt, as long as the model takes (and Discord lets a member type)."""

    def made(profile: ModelProfile, _operation: Operation) -> Option:
        longest = min(profile.prompt_max, DISCORD_STRING_MAX)
        return Option("prompt", app_commands.Range[str, 1, longest], description)

    return made


def model_options(*names: ModelOption) -> list[Declared]:
    """The image options `names`, each offered where the model takes it, with its choices."""
    return [functools.partial(_model_option, name) for name in names]


def _model_option(name: ModelOption, profile: ModelProfile, operation: Operation) -> Option | None:
    description = _DESCRIPTIONS[name]
    if name == "n":
        if profile.n_max == 1:
            return None
        return Option("n", app_commands.Range[int, 1, profile.n_max], description, 1)
    if name == "size":
        sizes = profile.sizes_for(operation)
        choices = tuple(app_commands.Choice(name=_size_label(s), value=s) for s in sizes)
        return Option("size", str, description, None, choices) if sizes else None
    if not profile.accepts(operation, name):
        return None
    if name == "output_compression":
        return Option(name, app_commands.Range[int, 0, 100], description, None)
    values = profile.choices.get(name, ())
    if not values:
        return None
    labels = _CHOICE_LABELS.get(name, {})
    # The key names the label in the catalogue (bot/front/translator.py): "low" means one thing
    # for quality and another for moderation.
    choices = tuple(
        app_commands.Choice(name=locale_str(labels.get(v, v), key=f"choice.{name}.{v}"), value=v)
        for v in values
    )
    return Option(name, str, description, None, choices)


def _size_label(size: str) -> locale_str:
    if size in _SIZE_LABELS:
        return locale_str(_SIZE_LABELS[size], key=f"choice.size.{size}")
    width, _, height = size.partition("x")
    shape = "square" if width == height else "landscape" if int(width) > int(height) else "portrait"
    return locale_str(f"{size} ({shape})", key=f"choice.size.{shape}", size=size)


class ImageCommandCog(commands.Cog):
    """A cog for one image command: its options made from the bot's model profile, and the
    command on the tree only where the model can run it (`offered`)."""

    def __init__(
        self,
        bot: ImagineBot,
        name: str,
        description: str,
        callback: Callable[..., Awaitable[None]],
        *,
        operation: Operation,
        options: Iterable[Declared],
        offered: bool = True,
    ) -> None:
        self.bot = bot
        self.offered = offered
        made = [o if isinstance(o, Option) else o(bot.profile, operation) for o in options]
        self.command = _slash_command(
            name,
            description,
            callback,
            [o for o in made if o is not None],
            allow_dms=bot.settings.allow_dms,
        )

    async def cog_load(self) -> None:
        if self.offered:
            self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)


# Discord's option types (DISCORD-LIMITS.md section 1) and the JSON each must carry, named as
# in the catalogue's `payload.wrong_type.<kind>`.
_STRING, _INTEGER, _BOOLEAN, _NUMBER, _ATTACHMENT = 3, 4, 5, 10, 11
_INT53 = 2**53 - 1
_KINDS = {
    _STRING: "text",
    _INTEGER: "integer",
    _BOOLEAN: "boolean",
    _NUMBER: "number",
    _ATTACHMENT: "attachment",
}


def _check_payload(
    command: app_commands.Command[Any, ..., None], interaction: discord.Interaction
) -> bool:
    """Refuse a payload whose options break what the command declares, before anything reads
    them: discord.py does not re-check what arrives, so a hand-made payload could otherwise
    reach the API (n=2.5 was charged as 2.5) or fail with a traceback."""
    problems = payload_problems(command, interaction.data)
    if problems:
        # Raised as the command's own error so the tree answers it like any member error.
        raise app_commands.CommandInvokeError(command, InvalidInput(problems))
    return True


def payload_problems(command: app_commands.Command[Any, ..., None], data: Any) -> list[Said]:
    """What is wrong with the options of an interaction's raw `data` for `command`: each
    option's declared type and its JSON value's type, attachments present in `resolved`, and
    required options present. Empty when the payload is sound. Ranges, lengths and choices
    are left to bot.validation, which knows the model and says how to fix them."""
    data = data if isinstance(data, Mapping) else {}
    options = data.get("options")
    options = options if isinstance(options, list) else []
    resolved = data.get("resolved")
    attachments = resolved.get("attachments") if isinstance(resolved, Mapping) else None
    attachments = attachments if isinstance(attachments, Mapping) else {}
    declared = {param.name: param for param in command.parameters}
    problems: list[Said] = []
    seen: set[str] = set()
    for option in options:
        name = option.get("name") if isinstance(option, Mapping) else None
        param = declared.get(name) if isinstance(name, str) else None
        if param is None or name in seen:
            problems.append(UserFacingError.of("payload.unknown_option"))
            continue
        seen.add(param.name)
        if not _sound_option(param, option, attachments):
            problems.append(_option_problem(param))
    missing = [p.name for p in command.parameters if p.required and p.name not in seen]
    problems += [UserFacingError.of("payload.missing_option", name=name) for name in missing]
    return problems


def _sound_option(
    param: app_commands.Parameter, option: Mapping[str, Any], attachments: Mapping[str, Any]
) -> bool:
    kind = param.type.value
    value = option.get("value")
    if option.get("type") != kind:
        return False
    if kind == _ATTACHMENT:
        return isinstance(value, str) and isinstance(attachments.get(value), Mapping)
    if kind == _INTEGER:
        # bool is an int to Python, and JSON's true must not count as 1 image.
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _INT53
    if kind == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == _BOOLEAN:
        return isinstance(value, bool)
    # Text, and the snowflake ids of users, channels, roles and mentionables.
    return isinstance(value, str)


def _option_problem(param: app_commands.Parameter) -> Problem:
    """What to tell the member of an option that arrived broken (and to send it again)."""
    kind = _KINDS.get(param.type.value, "value")
    return UserFacingError.of(f"payload.wrong_type.{kind}", name=param.name)


def _slash_command(
    name: str,
    description: str,
    callback: Callable[..., Awaitable[None]],
    options: list[Option],
    *,
    allow_dms: bool,
) -> app_commands.Command[Any, ..., None]:
    """A slash command whose options are `options`; `callback(interaction, **values)`."""

    async def command(interaction: discord.Interaction, **values: Any) -> None:
        await callback(interaction, **values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    parameters += [
        inspect.Parameter(
            o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.annotation, default=o.default
        )
        for o in options
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__name__ = command.__qualname__ = name
    described = app_commands.describe(**{o.name: o.description for o in options})(command)
    with_choices = app_commands.choices(**{o.name: list(o.choices) for o in options if o.choices})(
        described
    )
    slash: app_commands.Command[Any, ..., None] = app_commands.command(
        name=name, description=description
    )(with_choices)
    slash.add_check(functools.partial(_check_payload, slash))
    app_commands.allowed_contexts(guilds=True, dms=allow_dms, private_channels=False)(slash)
    app_commands.allowed_installs(guilds=True, users=False)(slash)
    return slash


async def start_job(
    bot: ImagineBot,
    interaction: discord.Interaction,
    member: Member,
    images: int,
    prompt: str | None = None,
    *,
    command: str = "imagine",
) -> Job:
    """Check the member may use the command here (and the prompt passes the server's blocked
    terms), reserve their images, then defer privately: a refusal is private and immediate,
    costs nothing, and nothing slow happens before Discord hears back within its 3 seconds;
    a later refusal replaces the private "thinking..." message. The job is recorded (crash
    recovery) from just before the deferral. Then let the other commands that arrived
    meanwhile defer before this one goes on."""
    # Before anything awaits: the member's requests keep the order they arrived in.
    bot.limiter.arrived()
    settings = await bot.service.admit(member, prompt)
    held = await bot.service.reserve(member, images, settings)
    tracked = None
    try:
        tracked = await track_job(bot, interaction, member, held, command=command)
        # Privately: a refusal found later (the moderation endpoint, the provider, the
        # picture's bytes) is then seen by the member alone; the images go out as a new
        # public message (bot.front.delivery).
        deferred = await interaction.response.defer(ephemeral=True, thinking=True)
        await tracked.deferred(deferred.message_id if deferred is not None else None)
        await bot.jobs.let_first_answers_go(FIRST_ANSWERS_WAIT)
    except BaseException:
        await held.refund()
        if tracked is not None:
            await asyncio.shield(settle_soon(bot, tracked, failed=True))
        raise
    shown = progress.track(
        bot, interaction, estimated_wait=bot.limiter.estimated_wait, command=command
    )
    return Job(
        member,
        held,
        on_position=shown.on_position,
        on_stage=shown.on_stage,
        on_partial=shown.on_partial,
        withdrawal=shown.withdrawal,
        tracked=tracked,
    )


async def run_job(
    bot: ImagineBot,
    interaction: discord.Interaction,
    command: str,
    prompt: str | None,
    options: ImageOptions,
    make: Callable[[Job], Awaitable[ImagesResult | Variation]],
    replay: Mapping[str, Any] | None = None,
) -> None:
    """The run every image command shares once its inputs are checked: admit, reserve and
    defer (`start_job`), `make` the images through the service, post them, then hand over
    images still owed from earlier requests; the job's record follows (`bot.front.tracking`).
    `replay` (`replay_of`) goes into the record before the post: what the result's Re-roll
    needs, after a restart too."""
    member = member_of(bot, interaction)
    job = await start_job(bot, interaction, member, options.n, prompt, command=command)
    started = time.monotonic()
    failed = True
    try:
        made = await make(job)
        result, note = (made.result, made.note) if isinstance(made, Variation) else (made, None)
        if replay is not None and job.tracked is not None:
            await remember(bot, job.tracked.job_id, replay)
        await post_result(
            bot,
            interaction,
            result,
            command=command,
            prompt=prompt,
            size=options.size,
            started=started,
            note=note,
        )
        failed = False
        offer_owed(bot, interaction, member.key)
    finally:
        if job.tracked is not None:
            await asyncio.shield(settle_soon(bot, job.tracked, failed=failed))


def member_of(bot: ImagineBot, interaction: discord.Interaction) -> Member:
    """The pseudonymous member behind an interaction."""
    user = interaction.user
    roles = tuple(role.id for role in user.roles) if isinstance(user, discord.Member) else ()
    channel = interaction.channel
    # A thread is age-restricted when its channel is (discord.py's Thread.is_nsfw); its
    # channel's id comes with the thread, cached or not.
    is_nsfw = getattr(channel, "is_nsfw", None)
    return Member(
        key=bot.member_ids(user.id),
        discord_id=user.id,
        role_ids=roles,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        parent_channel_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
        channel_nsfw=bool(is_nsfw()) if callable(is_nsfw) else False,
    )


def upload_of(what: str, attachment: discord.Attachment) -> Upload:
    """What Discord says of an attachment, for the service."""
    return Upload(
        what=what,
        url=attachment.url,
        filename=attachment.filename,
        size=attachment.size,
        content_type=attachment.content_type,
    )


def check_inputs(
    bot: ImagineBot, check_options: Callable[[], T], uploads: Iterable[Upload | None]
) -> T:
    """The cheap checks before deferring: `check_options()` and what Discord says of each
    upload (size, type). Every problem found is reported at once, in one `InvalidInput`."""
    problems: list[Said] = []
    for upload in uploads:
        if upload is None:
            continue
        try:
            bot.service.check_upload(upload)
        except InvalidInput as exc:
            problems += exc.problems
    try:
        checked = check_options()
    except InvalidInput as exc:
        raise InvalidInput([*exc.problems, *problems]) from None
    if problems:
        raise InvalidInput(problems)
    return checked


async def post_result(
    bot: ImagineBot,
    interaction: discord.Interaction,
    result: ImagesResult,
    *,
    command: str,
    prompt: str | None,
    size: str | None,
    started: float,
    note: str | None = None,
) -> None:
    """Post the images with what was asked, by whom, and how long it took."""
    first = result.images[0]
    caption = Caption(
        command=command,
        prompt=prompt,
        revised_prompt=result.revised_prompt,
        size=size if size and size != "auto" else f"{first.width}x{first.height}",
        model=result.model,
        member_id=interaction.user.id,
        seconds=time.monotonic() - started,
        note=note,
        locale=member_locale(interaction),
    )
    message = await deliver(
        interaction,
        result,
        caption,
        data_dir=bot.settings.data_dir,
        view=result_view(
            interaction.user.id,
            server_words(interaction),
            result_controls(
                member_locale(interaction),
                interaction.user.id,
                interaction.id,
                len(result.images),
                can_vary=bot.profile.supports_variations or bot.profile.supports_edits,
                can_edit=bot.profile.supports_edits,
            ),
        ),
    )
    if interaction.guild_id is not None:
        bot.dispatch(
            "image_generated",
            Generated(
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                member_id=interaction.user.id,
                command=command,
                prompt=prompt,
                model=result.model,
                size=caption.size,
                message_channel_id=message.channel.id if message is not None else None,
                message_id=message.id if message is not None else None,
                images=tuple(image.data for image in result.images),
            ),
        )
