"""bot.front.sync.commands_differ: a restart syncs only when our commands really changed."""

from __future__ import annotations

from typing import Any

from bot.front.sync import commands_differ

LOCAL: dict[str, Any] = {
    "name": "imagine",
    "description": "Make an image",
    "type": 1,
    "nsfw": False,
    "default_member_permissions": 2048,
    "options": [{"name": "prompt", "description": "What to draw", "type": 3, "required": True}],
}


def remote_copy(**changes: Any) -> dict[str, Any]:
    """The command as Discord returns it: ids and defaults added, permissions as a string."""
    return {
        **LOCAL,
        "id": "1234",
        "application_id": "5678",
        "version": "9",
        "default_member_permissions": "2048",
        "description_localizations": None,
        "contexts": [0, 1, 2],
        "integration_types": [0],
        **changes,
    }


def test_what_discord_adds_is_not_a_change() -> None:
    assert not commands_differ([LOCAL], [remote_copy()])


def test_a_changed_description_is_a_change() -> None:
    assert commands_differ([LOCAL], [remote_copy(description="Draw something")])


def test_a_new_or_missing_command_is_a_change() -> None:
    assert commands_differ([LOCAL], [])
    assert commands_differ([LOCAL], [remote_copy(name="paint")])


def test_contexts_count_where_we_set_them() -> None:
    ours = {**LOCAL, "contexts": [0]}
    assert commands_differ([ours], [remote_copy()])
    assert not commands_differ([ours], [remote_copy(contexts=[0])])


def test_a_changed_or_new_translation_is_a_change() -> None:
    ours = {**LOCAL, "description_localizations": {"zh-CN": "生成图片"}}
    assert commands_differ([ours], [remote_copy()])
    assert commands_differ([ours], [remote_copy(description_localizations={"zh-CN": "画图"})])
    assert not commands_differ(
        [ours], [remote_copy(description_localizations={"zh-CN": "生成图片"})]
    )


def test_an_empty_translation_set_and_the_callers_own_text_are_not_changes() -> None:
    ours = {**LOCAL, "name_localizations": {}, "description_localizations": {}}
    assert not commands_differ([ours], [remote_copy(description_localized="Make an image")])
