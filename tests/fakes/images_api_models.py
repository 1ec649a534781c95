"""`GET /v1/models` and `GET /v1/models/{model}` for the fake Images API (what the doctor asks).

Listed: every model the fake serves but the retired ones and those the key has no access to;
`shutdown_dates` adds OpenAI's optional `shutdown_date` to a model's entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

CREATED = 1_700_000_000


class ModelRoutes:
    """Mixed into FakeImagesAPI, which sets the attributes below."""

    api_key: str | None
    models: Mapping[str, Any]
    retired_models: set[str]
    shutdown_dates: dict[str, str]  # model -> "2026-12-01"
    models_without_access: set[str]  # answered 404 for this key, as OpenAI does
    model_requests: list[str]  # the paths asked for

    def add_model_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._get_model)

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.model_requests.append(request.path)
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        error = {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        return web.json_response({"error": error}, status=401)

    def _entry(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": name,
            "object": "model",
            "created": CREATED,
            "owned_by": "system",
        }
        if name in self.shutdown_dates:
            entry["shutdown_date"] = self.shutdown_dates[name]
        return entry

    def _visible(self) -> list[str]:
        hidden = self.retired_models | self.models_without_access
        return [name for name in self.models if name not in hidden]

    async def _list_models(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        data = [self._entry(name) for name in self._visible()]
        return web.json_response({"object": "list", "data": data})

    async def _get_model(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        name = request.match_info["model"]
        if name not in self._visible():
            error = {
                "message": f"The model '{name}' does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
            return web.json_response({"error": error}, status=404)
        return web.json_response(self._entry(name))
