"""A fake Discord on 127.0.0.1: REST API (``/api/v10``), gateway websocket and attachment CDN.

The real discord.py client logs in, connects its gateway, syncs commands, receives interactions
and answers them against this one aiohttp server. What Discord would reject is rejected here
too (command and message limits, upload sizes, expired tokens, double acknowledgements) and
recorded in ``FakeDiscord.violations``::

    async with FakeDiscord() as fake, fake.running(bot):  # also points discord.py at the fake
        await bot.tree.sync(guild=discord.Object(fake.guild.id))
        image = fake.add_attachment(png_bytes, "cat.png")
        interaction = await fake.invoke("imagine", {"prompt": "a cat", "image": image})
        assert (await interaction.wait_for_response()).type == 5
        seen = await interaction.wait_for_final()
        assert seen.files[0].data.startswith(b"\\x89PNG")

``fake.running(bot)`` waits for the fake's own READY, not for ``on_ready``: discord.py fires
``on_ready`` only ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE, so a test
that waits for it should build the bot with ``guild_ready_timeout=0.05``.

The package is split by job; ``FakeDiscord`` (in ``fake``) puts the jobs together:

- ``common``, ``models``, ``records``: constants and permission bits, the world as data, what
  the fake records about each request;
- ``state`` and ``world``: what the fake knows (observation, fault injection) and building it;
- ``gateway`` and ``session``: the gateway websocket; ``invoke``: the slash commands a member
  sends; ``actions``: what a member does with messages (``post_message``,
  ``invoke_message_command``, ``click``, ``submit_modal`` with ``files``) and ``modal_submit``:
  a modal as the client submits it;
- ``http``: recording, auth and body parsing for every REST route; ``rest``, ``commands``,
  ``messages``, ``responses``: the REST routes (``POST /attachments/refresh-urls`` included);
  ``cdn``: signed CDN links that expire (``expire_cdn_links()``); ``validation_commands``,
  ``validation_messages`` and ``validation_modals``: what Discord rejects.

Acting on a message (issue 12)::

    posted = fake.post_message(fake.member, files=[png], embed_images=[png])
    menu = await fake.invoke_message_command("Vary this image", posted.id, user=fake.other_member)
    click = await fake.click(result_message_id, "vary:1", user=fake.other_member)
    opened = ...  # the bot answered with a modal (a Label-wrapped text input and FileUpload)
    submitted = await fake.submit_modal({"Prompt": "a hat"}, files={"Mask": [mask_png]})
    fake.expire_cdn_links()  # every link handed out so far now answers 404 until refreshed
"""

from tests.fakes.discord.common import DiscordError, Permission
from tests.fakes.discord.fake import FakeDiscord, point_discord_py_at
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    SeenMessage,
)
from tests.fakes.discord.records import (
    Callback,
    CommandPut,
    RecordedRequest,
    UploadedFile,
    Violation,
)

__all__ = [
    "Callback",
    "CommandPut",
    "DiscordError",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Permission",
    "RecordedRequest",
    "SeenMessage",
    "UploadedFile",
    "Violation",
    "point_discord_py_at",
]
