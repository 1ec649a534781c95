"""The settings' declarations are the one source: `.env.example` and the README follow them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import Settings, docs
from bot.config import table as t
from bot.config.__main__ import main
from bot.images.profiles import infer_family
from bot.secrets import Secret

REPO = Path(__file__).resolve().parent.parent
REGENERATE = "out of date: run `python -m bot.config --write` and commit the result"


def test_env_example_is_written_from_the_declarations() -> None:
    assert (REPO / ".env.example").read_text(encoding="utf-8") == docs.env_example(), REGENERATE


def test_readme_table_is_written_from_the_declarations() -> None:
    assert docs.readme_table() in (REPO / "README.md").read_text(encoding="utf-8"), REGENERATE


def test_the_command_prints_what_the_files_hold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env-example"]) == 0
    assert capsys.readouterr().out == docs.env_example()
    assert main(["--readme-table"]) == 0
    assert capsys.readouterr().out == docs.readme_table()


def test_write_replaces_only_the_table(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        f"# Title\n\n{docs.README_START}\nold table\n{docs.README_END}\n\n## After\n",
        encoding="utf-8",
    )
    docs.write(tmp_path)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert readme == f"# Title\n\n{docs.readme_table()}\n## After\n"
    assert (tmp_path / ".env.example").read_text(encoding="utf-8") == docs.env_example()


def test_env_example_works_with_docker_env_file() -> None:
    # `docker run --env-file` keeps quotes and inline comments literally, and an active line
    # would override the image's own ENV (DATA_DIR=/data): so every active line is empty.
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    active = [line for line in lines if line.strip() and not line.startswith("#")]
    assert all(line.endswith("=") for line in active), active
    assert "DATA_DIR=" not in active
    names = {setting.env for setting in t.SETTINGS}
    values = [
        line.removeprefix("# ").partition("=")[2]
        for line in lines
        if line.removeprefix("# ").partition("=")[0] in names
    ]
    assert len(values) == len(names)
    assert not any(quote in value for value in values for quote in "\"'")


def test_every_setting_appears_once_in_each_file() -> None:
    names = [setting.env for setting in t.SETTINGS]
    assert len(names) == len(set(names))
    example = dotenv_values(REPO / ".env.example")
    shown, table = docs.env_example(), docs.readme_table()
    for name in names:
        assert shown.count(f"\n{name}=") + shown.count(f"\n# {name}=") == 1, name
        assert table.count(f"\n| `{name}` |") == 1, name
    # The commented lines are exactly the settings with one default value.
    commented = {s.env for s in t.SETTINGS if docs.literal_default(s) is not None}
    assert set(example) == set(names) - commented


def test_the_default_model_and_its_family_agree() -> None:
    assert infer_family(t.IMAGE_MODEL.default) == t.DEFAULT_FAMILY


def test_built_and_read_settings_share_their_defaults() -> None:
    token, key = Secret("token"), Secret("sk-key")
    built = Settings(discord_token=token, openai_api_key=key)
    read = Settings.from_env({"DISCORD_TOKEN": "token", "OPENAI_API_KEY": "sk-key"})
    # Read from the environment, screening is on by default with OpenAI (it is free there);
    # a Settings built in code (tests, benchmarks) asks for it explicitly.
    assert read.moderation_enabled
    assert read.moderation_api_key == key
    differs = {
        field.name
        for field in dataclasses.fields(Settings)
        if getattr(built, field.name) != getattr(read, field.name)
    }
    assert differs == {"moderation_enabled", "moderation_api_key"}
