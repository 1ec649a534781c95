"""What can go wrong when calling the Images API, as exceptions whose text members may see.

Mirrors openai-python's `_exceptions.py`: the kind of the transport's failure (from the HTTP
status and the API's code) maps to a class, and every instance carries the status, the API's
`code` and `param`, and the request id for the log. `str(err)`
is always written for a Discord member and never holds the API key or raw exception text.
"""

from __future__ import annotations

from typing import Any

from bot.errors import UserFacingError
from bot.transport import APIFailure, FailureKind, safe_api_message


class ImagesError(UserFacingError):
    """Base of every Images API failure."""

    retryable = False
    # True when the request reached the service whole and its answer was lost: the images
    # may have been made and billed, so the member is charged as the API would charge.
    maybe_paid = False
    default_message = "The image service ran into a problem. Please try again in a moment."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.status = status
        self.code = code
        self.param = param
        self.api_message = safe_api_message(api_message)
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"param={self.param!r}, request_id={self.request_id!r})"
        )


# The request fields a member chose (the command's options and pictures). A 400 whose `param`
# names one of these tells the member how to fix their input, so its text is passed on; any
# other 400 (no `param`, the model, a field the bot sent, an unknown parameter) is the bot's
# or the server's business, and its text stays in the log.
_CHOSEN_OPTIONS = frozenset({"prompt", "n", "size", "quality", "style", "background"})
_CHOSEN_OUTPUT = frozenset({"output_format", "output_compression", "moderation"})
_PICTURES = frozenset({"image", "image[]", "mask"})
MEMBER_INPUTS = _CHOSEN_OPTIONS | _CHOSEN_OUTPUT | _PICTURES
NOT_ABOUT_INPUT = (
    "The image service couldn't carry out this request because of a problem on its side. "
    "Please try again later; if it keeps happening, let the server owner know."
)


def about_member_input(param: str | None, code: str | None) -> bool:
    """Whether a 400 is about something the member chose and can change."""
    return param in MEMBER_INPUTS and code != "unknown_parameter"


class InvalidRequest(ImagesError):
    """HTTP 400 (or 404/422): the service refused the request as malformed."""

    default_message = "The image service could not accept that request."


class ModelNotFound(InvalidRequest):
    """The configured model does not exist (or was retired) on the server."""

    default_message = (
        "The image model this bot is set up with isn't available any more. "
        "Please let the server owner know."
    )


class ContentPolicyViolation(ImagesError):
    """The provider's safety system refused the prompt or an input image."""

    default_message = (
        "The image provider refused this request under its content policy. "
        "Try rephrasing your prompt."
    )


class AuthenticationFailed(ImagesError):
    """HTTP 401/403: the bot's API key (or organisation/project) is wrong."""

    default_message = (
        "The bot can't sign in to its image service right now. Please let the server owner know."
    )


class QuotaExhausted(ImagesError):
    """HTTP 429 `insufficient_quota`: out of credit or over a spend cap. Never retried."""

    default_message = (
        "The bot's image service has used up its credit. Please let the server owner know."
    )


class RateLimited(ImagesError):
    """HTTP 429 other than quota: too many requests or images per minute upstream."""

    retryable = True
    default_message = "The image service is busy right now. Please try again in a minute."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class UpstreamFailure(ImagesError):
    """HTTP 5xx (or a 409 conflict that outlasted the retries): the service failed on its side."""

    retryable = True
    default_message = "The image service had a problem on its side. Please try again in a moment."


class UpstreamTimeout(ImagesError):
    """No answer within the request timeout."""

    retryable = True
    default_message = "The image service took too long to answer. Please try again."


class NetworkFailure(ImagesError):
    """The connection failed or dropped before an answer arrived."""

    retryable = True
    default_message = "The bot couldn't reach its image service. Please try again in a moment."


class MalformedResponse(ImagesError):
    """The service answered (2xx), but not with images we could read: they may be billed."""

    maybe_paid = True
    default_message = (
        "The image service sent back something that wasn't a usable image. The service "
        "may still have counted it, so it counts toward your quota."
    )


class AnswerLost(ImagesError):
    """The whole request was sent, then the connection timed out or broke before a complete
    answer: the images may have been made and billed, so it is never sent again."""

    maybe_paid = True
    default_message = (
        "Your request reached the image service, but its answer was lost on the way back. "
        "The service may still have counted it, so it counts toward your quota; "
        "please try again."
    )


_BY_KIND: dict[FailureKind, type[ImagesError]] = {
    "model_not_found": ModelNotFound,
    "content_policy": ContentPolicyViolation,
    "authentication": AuthenticationFailed,
    "quota": QuotaExhausted,
    # A 409 is the service's own conflict (a lock that timed out): retried, like a 5xx.
    "conflict": UpstreamFailure,
    "server_error": UpstreamFailure,
    "timeout": UpstreamTimeout,
    "network": NetworkFailure,
    "malformed": MalformedResponse,
}


def images_error(failure: APIFailure) -> ImagesError:
    """The Images API exception, with words for members, for a failure of the transport."""
    details: dict[str, Any] = {
        "status": failure.status,
        "code": failure.code,
        "param": failure.param,
        "api_message": failure.api_message,
        "request_id": failure.request_id,
    }
    if failure.maybe_paid:
        return (MalformedResponse if failure.kind == "malformed" else AnswerLost)(**details)
    if failure.kind == "rate_limited":
        return RateLimited(retry_after=failure.retry_after, **details)
    if failure.kind == "invalid_request":
        message = failure.api_message  # already masked and shortened by the transport
        if message and about_member_input(failure.param, failure.code):
            return InvalidRequest(f"The image service rejected the request: {message}", **details)
        # Not the member's to fix (a server's "model file ... not loaded on worker ..."):
        # the transport logged the API's text with the request id; the member gets no details.
        return InvalidRequest(NOT_ABOUT_INPUT, **details)
    return _BY_KIND[failure.kind](**details)
