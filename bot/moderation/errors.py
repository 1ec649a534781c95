"""What server controls and prompt screening raise, as catalogue problems for whoever sees them.

`AccessDenied` and `PromptRefused` are shown to the member who ran the command, `InvalidSetting`
to the admin who tried to change a setting. `PromptRefused.reason` is for the mod-log only: it
may name the blocked term, which the member-facing problem never does.
"""

from __future__ import annotations

from typing import Literal

from bot.errors import InvalidInput, Problem, Said, UserFacingError

AccessRule = Literal["dms", "blocked", "role", "channel", "nsfw"]
Layer = Literal["blocked_terms", "moderation", "provider"]


class InvalidSetting(InvalidInput):
    """A server setting an admin tried to save breaks a rule; the message says which and why."""

    def __init__(self, problem: Said) -> None:
        super().__init__([problem])


class AccessDenied(UserFacingError):
    """This member may not use the image commands here; the message says where they may.

    `rule` names the rule that refused (for logs and tests); `until` is the end of a member
    block (epoch seconds, `math.inf` for an indefinite one) when `rule == "blocked"`.
    """

    def __init__(self, problem: Said, *, rule: AccessRule, until: float | None = None) -> None:
        super().__init__(problem)
        self.rule: AccessRule = rule
        self.until = until

    def __repr__(self) -> str:
        return f"AccessDenied(rule={self.rule!r})"


class PromptRefused(UserFacingError):
    """A screening layer refused the prompt before any money was spent (or the provider did).

    `layer` says which one; `reason` is the detail for the mod-log (the blocked term, the
    flagged categories, the provider's code), a problem of its own, never part of `str(err)`.
    `categories` holds the moderation categories that blocked, when `layer == "moderation"`.
    """

    def __init__(
        self, problem: Said, *, layer: Layer, reason: Said, categories: tuple[str, ...] = ()
    ) -> None:
        super().__init__(problem)
        self.layer: Layer = layer
        self.reason = reason
        self.categories = categories

    def __repr__(self) -> str:
        # No reason here: a blocked term must not reach a channel through a careless repr.
        return f"PromptRefused(layer={self.layer!r}, categories={self.categories!r})"


class ModerationUnavailable(UserFacingError):
    """The moderation endpoint could not judge the prompt, and the policy is to fail closed."""

    default_problem = Problem("moderation.unavailable")

    def __init__(
        self,
        problem: Said | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(problem or self.default_problem)
        self.status = status
        self.code = code
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"ModerationUnavailable(status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r})"
        )


class CorruptSettings(RuntimeError):
    """Saved settings of a server could not be read. Not shown to members: an operator problem.

    Raised rather than falling back to defaults, which would silently lift the server's blocks.
    """
