"""bot.validation: what members type, checked against each model family's profile."""

# Messages write sizes with a real multiplication sign, as members read them.
# ruff: noqa: RUF001

from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from bot.front.explain import explain
from bot.images.profiles import ModelProfile, build_profile
from bot.images.requests import ImageOptions
from bot.validation import check_edit, check_generation, check_variation
from tests.said import problems, refused

DALLE2 = build_profile("dall-e-2", "dall-e-2")
DALLE3 = build_profile("dall-e-3", "dall-e-3")
GPT = build_profile("gpt-image", "gpt-image-1.5")
GPT_MINI = build_profile("gpt-image-mini", "gpt-image-1-mini")
GPT2 = build_profile("gpt-image-2", "gpt-image-2")


# --- prompts -----------------------------------------------------------------------------------


def test_the_prompt_is_stripped_and_plain_options_are_kept_unset() -> None:
    prompt, options = check_generation(GPT, prompt="  a red fox in the snow \n")

    assert prompt == "a red fox in the snow"
    assert options == ImageOptions()
    assert options.optional_fields() == {}


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t  \n"])
def test_a_blank_prompt_is_refused(prompt: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt=prompt)

    assert problems(error) == (
        "Your prompt is empty. Describe the picture you want and try again.",
    )


def test_a_prompt_over_the_models_limit_is_refused_with_both_lengths() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(DALLE2, prompt="a" * 1_204)

    assert problems(error) == (
        "Your prompt is 1,204 characters long; this model takes at most 1,000. "
        "Shorten it and try again.",
    )


def test_prompt_length_counts_characters_after_stripping() -> None:
    prompt = "🦊" * 1_000  # 4,000 bytes in UTF-8, but 1,000 characters

    text, _ = check_generation(DALLE2, prompt=f"   {prompt}   ")

    assert text == prompt
    with refused("1,001 characters"):
        check_generation(DALLE2, prompt=prompt + "!")


@pytest.mark.parametrize(
    ("profile", "limit"), [(DALLE2, 1_000), (DALLE3, 4_000), (GPT, 32_000), (GPT2, 32_000)]
)
def test_each_family_takes_prompts_up_to_its_own_limit(profile: ModelProfile, limit: int) -> None:
    text, _ = check_generation(profile, prompt="x" * limit)
    assert len(text) == limit
    with refused(f"at most {limit:,}"):
        check_generation(profile, prompt="x" * (limit + 1))


# --- number of images --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, 11])
def test_n_outside_1_to_10_is_refused(n: int) -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt="fox", n=n)

    assert problems(error) == (
        f"You asked for {n} images; this model makes 1 to 10 at a time. "
        "Choose a number in that range.",
    )


def test_dalle3_makes_one_image_at_a_time() -> None:
    _, options = check_generation(DALLE3, prompt="fox", n=1)
    assert options.n == 1

    with refused("one image at a time"):
        check_generation(DALLE3, prompt="fox", n=2)


# --- sizes -------------------------------------------------------------------------------------


def test_a_size_is_normalised() -> None:
    _, options = check_generation(GPT, prompt="fox", size=" 1536X1024 ")
    assert options.size == "1536x1024"
    _, options = check_generation(GPT, prompt="fox", size="1024 × 1536")
    assert options.size == "1024x1536"
    _, options = check_generation(GPT, prompt="fox", size="  ")
    assert options.size is None


def test_dalle2_lists_its_sizes_when_one_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(DALLE2, prompt="fox", size="1536x1024")

    assert problems(error) == (
        "“1536x1024” isn't a size this model can make. Choose one of: 256x256, 512x512, 1024x1024.",
    )


def test_gpt_image_2_takes_custom_sizes_within_its_rules() -> None:
    _, options = check_generation(GPT2, prompt="fox", size="1280x720")
    assert options.size == "1280x720"
    _, options = check_edit(GPT2, prompt="fox", size="3840x2160")
    assert options.size == "3840x2160"

    with pytest.raises(InvalidInput) as error:
        check_generation(GPT2, prompt="fox", size="1000x1000")  # not multiples of 16
    (problem,) = problems(error)
    assert problem.startswith("“1000x1000” isn't a size this model can make.")
    assert "2048x1152, 1152x2048, or your own WIDTHxHEIGHT" in problem
    assert "multiples of 16" in problem


def test_other_gpt_models_take_no_custom_size() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt="fox", size="1280x720")

    (problem,) = problems(error)
    assert "Choose one of: auto, 1024x1024, 1536x1024, 1024x1536." in problem
    assert "WIDTHxHEIGHT" not in problem


def test_a_size_that_is_not_plain_text_is_not_echoed() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt="fox", size="<@&123> **big**")

    (problem,) = problems(error)
    assert problem.startswith("That size isn't a size this model can make.")
    assert "<@" not in problem
    assert "**" not in problem


# --- optional fields ---------------------------------------------------------------------------


def test_gpt_generation_options_are_normalised_and_kept() -> None:
    prompt, options = check_generation(
        GPT,
        prompt="fox",
        n=3,
        size="1024x1024",
        quality=" HIGH ",
        background="transparent",
        output_format="WebP",
        output_compression=80,
        moderation="low",
    )

    assert prompt == "fox"
    assert options == ImageOptions(
        n=3,
        size="1024x1024",
        quality="high",
        background="transparent",
        output_format="webp",
        output_compression=80,
        moderation="low",
    )


def test_dalle3_takes_quality_and_style() -> None:
    _, options = check_generation(DALLE3, prompt="fox", quality="hd", style="natural")

    assert options == ImageOptions(quality="hd", style="natural")


@pytest.mark.parametrize(
    ("profile", "field", "label"),
    [
        (GPT, "style", "style"),
        (DALLE2, "quality", "quality"),
        (DALLE3, "background", "background"),
        (DALLE3, "output_format", "output format"),
        (DALLE3, "moderation", "moderation"),
    ],
)
def test_a_field_the_model_does_not_take_is_refused(
    profile: ModelProfile, field: str, label: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(profile, prompt="fox", **{field: "auto"})  # type: ignore[arg-type]

    assert problems(error) == (f"This model has no {label} setting; leave it out and try again.",)


def test_a_value_outside_the_choices_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt="fox", quality="ultra")

    assert problems(error) == (
        "“ultra” isn't a quality this model offers. Choose one of: auto, low, medium, high.",
    )


def test_dalle3_quality_choices_are_its_own() -> None:
    with refused("Choose one of: standard, hd"):
        check_generation(DALLE3, prompt="fox", quality="high")


def test_input_fidelity_depends_on_the_model() -> None:
    _, options = check_edit(GPT, prompt="fox", input_fidelity="high")
    assert options.input_fidelity == "high"

    with refused("no input fidelity setting"):
        check_edit(GPT_MINI, prompt="fox", input_fidelity="high")


# --- output format, compression and transparency -------------------------------------------------


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
def test_compression_with_a_lossy_format_is_kept(output_format: str) -> None:
    _, options = check_generation(
        GPT, prompt="fox", output_format=output_format, output_compression=0
    )

    assert options.output_compression == 0
    assert options.output_format == output_format


@pytest.mark.parametrize("output_format", [None, "png"])
def test_compression_needs_jpeg_or_webp(output_format: str | None) -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(GPT, prompt="fox", output_format=output_format, output_compression=50)

    assert problems(error) == (
        "Output compression only applies to JPEG or WebP images. Set the output format to jpeg "
        "or webp, or leave compression out.",
    )


@pytest.mark.parametrize("compression", [-1, 101])
def test_compression_is_0_to_100(compression: int) -> None:
    with pytest.raises(InvalidInput) as error:
        check_edit(GPT, prompt="fox", output_format="jpeg", output_compression=compression)

    assert problems(error) == (
        f"Output compression must be between 0 and 100; you gave {compression}. "
        "Pick a value in that range.",
    )


def test_compression_is_refused_where_the_model_has_none() -> None:
    with refused("no output compression setting"):
        check_generation(DALLE3, prompt="fox", output_compression=50)


def test_a_refused_output_format_is_not_blamed_twice() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(
            GPT, prompt="fox", output_format="gif", output_compression=50, background="transparent"
        )

    assert problems(error) == (
        "“gif” isn't an output format this model offers. Choose one of: png, jpeg, webp.",
    )


@pytest.mark.parametrize("output_format", [None, "png", "webp"])
def test_a_transparent_background_with_png_or_webp_output_is_fine(
    output_format: str | None,
) -> None:
    _, options = check_generation(
        GPT, prompt="fox", background="transparent", output_format=output_format
    )

    assert options.background == "transparent"


def test_a_transparent_background_cannot_be_jpeg() -> None:
    with pytest.raises(InvalidInput) as error:
        check_edit(GPT, prompt="fox", background="transparent", output_format="jpeg")

    assert problems(error) == (
        "A transparent background needs PNG or WebP output; JPEG has no transparency. Set the "
        "output format to png or webp, or choose another background.",
    )


# --- operations --------------------------------------------------------------------------------


def test_edits_are_refused_where_the_model_cannot_edit() -> None:
    with pytest.raises(InvalidInput) as error:
        check_edit(DALLE3, prompt="", n=5)

    # Only this: the rest of the request doesn't matter when the command can't work at all.
    assert problems(error) == (
        "The image model this bot uses (dall-e-3) can't edit images, "
        "so editing is not available here.",
    )


def test_dalle2_edits_take_only_n_and_size() -> None:
    prompt, options = check_edit(DALLE2, prompt=" add a hat ", n=2, size="512x512")

    assert prompt == "add a hat"
    assert options == ImageOptions(n=2, size="512x512")
    with refused("no background setting"):
        check_edit(DALLE2, prompt="add a hat", background="opaque")


def test_gpt_edits_take_their_own_fields() -> None:
    _, options = check_edit(
        GPT2,
        prompt="add a hat",
        size="auto",
        quality="low",
        background="opaque",
        output_format="jpeg",
        output_compression=40,
        input_fidelity="low",
    )

    assert options == ImageOptions(
        size="auto",
        quality="low",
        background="opaque",
        output_format="jpeg",
        output_compression=40,
        input_fidelity="low",
    )


def test_variations_on_dalle2() -> None:
    options = check_variation(DALLE2, n=4, size="256x256")

    assert options == ImageOptions(n=4, size="256x256")


def test_variation_sizes_are_the_variation_endpoints_own() -> None:
    with pytest.raises(InvalidInput) as error:
        check_variation(DALLE2, n=11, size="auto")

    assert problems(error) == (
        "You asked for 11 images; this model makes 1 to 10 at a time. "
        "Choose a number in that range.",
        "“auto” isn't a size this model can make. Choose one of: 256x256, 512x512, 1024x1024.",
    )


def test_variations_on_dalle2_take_no_edit_fields() -> None:
    with pytest.raises(InvalidInput) as error:
        check_variation(DALLE2, quality="standard", output_format="png")

    assert problems(error) == (
        "This model has no quality setting; leave it out and try again.",
        "This model has no output format setting; leave it out and try again.",
    )


def test_a_variation_on_gpt_image_is_checked_as_the_edit_that_makes_it() -> None:
    options = check_variation(GPT, n=2, size="1536x1024", quality="low", output_format="webp")

    assert options == ImageOptions(n=2, size="1536x1024", quality="low", output_format="webp")
    assert check_variation(GPT, operation="edit", n=2) == ImageOptions(n=2)
    with refused("isn't a size this model can make"):
        check_variation(GPT, size="256x256")


def test_variations_are_refused_where_no_endpoint_can_make_them() -> None:
    expected = (
        "The image model this bot uses (gpt-image-1.5) can't make variations of an image, "
        "so variations are not available here.",
    )
    with pytest.raises(InvalidInput) as error:
        check_variation(GPT, operation="variation", n=2)
    assert problems(error) == expected

    with refused(r"\(dall-e-3\) can't make variations"):
        check_variation(DALLE3)


# --- everything at once ------------------------------------------------------------------------


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(InvalidInput) as error:
        check_generation(
            DALLE3,
            prompt="   ",
            n=4,
            size="256x256",
            quality="ultra",
            style="natural",
            background="transparent",
        )

    assert problems(error) == (
        "Your prompt is empty. Describe the picture you want and try again.",
        "This model makes one image at a time; set the number of images to 1 (or leave it out).",
        "“256x256” isn't a size this model can make. "
        "Choose one of: 1024x1024, 1792x1024, 1024x1792.",
        "“ultra” isn't a quality this model offers. Choose one of: standard, hd.",
        "This model has no background setting; leave it out and try again.",
    )
    # What the member reads (the front renders the problems; errors carry data).
    assert explain(None, error.value).startswith(
        "There are a few problems with that request:\n- Your"
    )
