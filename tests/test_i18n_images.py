"""Every catalogue key the Images API errors, the picture checks, option validation and the
downloads can build (several are put together from the attachment or the option's name) is in
both shipped languages, and the operator's failures carry the error id their message shows."""

from __future__ import annotations

import pytest

from bot.front.explain import explain
from bot.front.i18n import SHIPPED, lookup
from bot.images import errors
from bot.images.profiles import CHOICE_FIELDS
from bot.transport import APIFailure, FailureKind


def _built_keys() -> list[str]:
    keys = [
        cls.key
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ImagesError)
    ]
    keys += ["images.rejected", "images.not_about_input", "imaging.unreadable"]
    keys += ["imaging.unsupported.edit", "imaging.unsupported.variation"]
    for what in ("image", "mask"):
        for name in (
            "empty",
            "too_heavy",
            "not_an_image",
            "damaged",
            "far_too_many_pixels",
            "too_many_pixels",
        ):
            keys.append(f"imaging.{what}.{name}")
        for name in ("not_from_discord", "too_large", "larger_than", "failed"):
            keys.append(f"downloads.{what}.{name}")
    keys += [f"imaging.mask.{n}" for n in ("wrong_size", "nothing_to_edit", "vanishes", "needed")]
    keys += ["imaging.image.not_square", "imaging.image.too_detailed"]
    for name in CHOICE_FIELDS:
        keys += [f"validation.{name}.{n}" for n in ("unsupported", "not_offered")]
        keys.append(f"validation.{name}.not_offered.unnamed")
    for kind in ("listed", "custom"):
        keys += [f"validation.size.{kind}", f"validation.size.{kind}.unnamed"]
    return sorted(set(keys))


@pytest.mark.parametrize("key", _built_keys())
def test_every_key_built_from_parts_is_in_every_language(key: str) -> None:
    for lang in SHIPPED:
        assert lookup(lang, key) is not None, f"{lang} lacks {key}"


OPERATORS: list[FailureKind] = ["authentication", "model_not_found", "quota"]


@pytest.mark.parametrize("kind", OPERATORS)
def test_an_operators_failure_gives_the_member_its_error_id(kind: FailureKind) -> None:
    error = errors.images_error(APIFailure(kind, status=401, request_id="req_1"))
    assert isinstance(error, errors.OperatorFailure)
    assert f"`{error.error_id}`" in explain(None, error)
    assert f"`{error.error_id}`" in explain("zh-CN", error)
