"""What can go wrong when calling the Images API, as exceptions carrying what members may see.

Mirrors openai-python's `_exceptions.py`: the kind of the transport's failure (from the HTTP
status and the API's code) maps to a class, and every instance carries the status, the API's
`code` and `param`, and the request id for the log. What the member reads is a catalogue
message (`images.*`, rendered by the front in their language); it never holds the API key or
raw exception text. The operator's failures (a wrong key, an unknown model, the account out of
credit) are logged as errors with an error id, and the member's apology gives that id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, ClassVar

from bot.errors import Problem, UserFacingError
from bot.transport import APIFailure, FailureKind, safe_api_message

log = logging.getLogger(__name__)


class ImagesError(UserFacingError):
    """Base of every Images API failure."""

    retryable = False
    # True when the request reached the service whole and its answer was lost: the images
    # may have been made and billed, so the member is charged as the API would charge.
    maybe_paid = False
    # The catalogue message the member reads when nothing more specific is said.
    key: ClassVar[str] = "images.failed"

    def __init__(
        self,
        problem: Problem | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(problem or self.of(self.key))
        self.status = status
        self.code = code
        self.param = param
        self.api_message = safe_api_message(api_message)
        self.request_id = request_id

    def __repr__(self) -> str:
        name = type(self).__name__
        return (
            f"{name}(status={self.status!r}, code={self.code!r}, "  # i18n: not for members
            f"param={self.param!r}, request_id={self.request_id!r})"
        )


class OperatorFailure(ImagesError):
    """A failure only the operator can fix (the bot's key, model or account): logged as an
    error with `error_id`, which the member's short apology gives them to pass on."""

    def __init__(self, problem: Problem | None = None, **details: Any) -> None:
        self.error_id = secrets.token_hex(4)
        super().__init__(problem or self.of(self.key, error_id=self.error_id), **details)


# The request fields a member chose (the command's options and pictures). A 400 whose `param`
# names one of these tells the member how to fix their input, so its text is passed on; any
# other 400 (no `param`, the model, a field the bot sent, an unknown parameter) is the bot's
# or the server's business, and its text stays in the log.
_CHOSEN_OPTIONS = frozenset({"prompt", "n", "size", "quality", "style", "background"})
_CHOSEN_OUTPUT = frozenset({"output_format", "output_compression", "moderation"})
_PICTURES = frozenset({"image", "image[]", "mask"})
MEMBER_INPUTS = _CHOSEN_OPTIONS | _CHOSEN_OUTPUT | _PICTURES


def about_member_input(param: str | None, code: str | None) -> bool:
    """Whether a 400 is about something the member chose and can change."""
    return param in MEMBER_INPUTS and code != "unknown_parameter"


class InvalidRequest(ImagesError):
    """HTTP 400 (or 404/422): the service refused the request as malformed."""

    key = "images.invalid_request"


class ModelNotFound(OperatorFailure, InvalidRequest):
    """The configured model does not exist (or was retired) on the server."""

    key = "images.model_not_found"


class ContentPolicyViolation(ImagesError):
    """The provider's safety system refused the prompt or an input image."""

    key = "images.content_policy"


class AuthenticationFailed(OperatorFailure):
    """HTTP 401/403: the bot's API key (or organisation/project) is wrong."""

    key = "images.authentication"


class QuotaExhausted(OperatorFailure):
    """HTTP 429 `insufficient_quota`: out of credit or over a spend cap. Never retried."""

    key = "images.quota"


class RateLimited(ImagesError):
    """HTTP 429 other than quota: too many requests or images per minute upstream."""

    retryable = True
    key = "images.rate_limited"

    def __init__(
        self, problem: Problem | None = None, *, retry_after: float | None = None, **details: Any
    ) -> None:
        super().__init__(problem, **details)
        self.retry_after = retry_after


class _Transient(ImagesError):
    """A failure that a later try may not meet: the member may simply try again."""

    retryable = True


class UpstreamFailure(_Transient):
    """HTTP 5xx (or a 409 conflict that outlasted the retries): the service failed on its side."""

    key = "images.server_error"


class UpstreamTimeout(_Transient):
    """No answer within the request timeout."""

    key = "images.timeout"


class NetworkFailure(_Transient):
    """The connection failed or dropped before an answer arrived."""

    key = "images.network"


class MalformedResponse(ImagesError):
    """The service answered (2xx), but not with images we could read: they may be billed."""

    maybe_paid = True
    key = "images.malformed"


class AnswerLost(ImagesError):
    """The whole request was sent, then the connection timed out or broke before a complete
    answer: the images may have been made and billed, so it is never sent again."""

    maybe_paid = True
    key = "images.answer_lost"


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
# What the operator reads beside the error id, by failure.
_OPERATOR_HINTS = {
    "model_not_found": "does not know the model: check IMAGE_MODEL",  # i18n: not for members
    "authentication": "refused the bot's key: check OPENAI_API_KEY",  # i18n: not for members
    "quota": "says the account is out of credit or over its spend cap",  # i18n: not for members
}


def images_error(failure: APIFailure) -> ImagesError:
    """The Images API exception, carrying what members read, for a failure of the transport."""
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
            return InvalidRequest(ImagesError.of("images.rejected", message=message), **details)
        # Not the member's to fix (a server's "model file ... not loaded on worker ..."):
        # the transport logged the API's text with the request id; the member gets no details.
        return InvalidRequest(ImagesError.of("images.not_about_input"), **details)
    error = _BY_KIND[failure.kind](**details)
    if isinstance(error, OperatorFailure):
        log.error(
            "error %s: the Images API %s (status=%s code=%s request_id=%s)",
            error.error_id,
            _OPERATOR_HINTS[failure.kind],
            failure.status,
            failure.code,
            failure.request_id,
        )
    return error
