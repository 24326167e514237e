"""The OpenAPI document as the contract: problem responses, security and headers on every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_JSON, ProblemDocument
from scf_chain.platform.idempotency import MAX_KEY_LENGTH

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WRITE_METHODS = {"post", "put", "patch", "delete"}

ERRORS: dict[int, str] = {
    400: "Malformed request (a body that cannot be parsed, a POST without Idempotency-Key)",
    401: "No API key, an unknown or revoked one, or different keys in Authorization and "
         "X-API-Key",
    403: "The caller's roles do not allow this (auditors only read; contract permission errors)",
    404: "No such resource visible to the caller",
    409: "Not possible in the current state (contract state errors, an Idempotency-Key in use)",
    413: "The request body is over the size limit (checked before it is read)",
    422: "The request is invalid (field errors in `errors`, contract value errors in `revert`)",
    429: "Over the request rate limit; retry after Retry-After seconds",
    503: "The chain or the store is unavailable; retry later",
    504: "The transaction was sent but not confirmed in time; its outcome is unknown",
}

# Responses that are not JSON (the route answers a Response with its own media type).
EXTRA_CONTENT: dict[tuple[str, str], dict[int, dict[str, Any]]] = {
    ("/audit/participants/{who}/flows", "get"): {
        200: {"text/csv": {"schema": {"type": "string"}}}},
}


def error_statuses(method: str, op: dict[str, Any]) -> list[int]:
    """The problem statuses an operation can answer, from what it takes and how it is secured."""
    params = op.get("parameters", [])
    secured = bool(op.get("security"))
    has_body = "requestBody" in op
    writes = method in WRITE_METHODS
    idempotent = any(p["in"] == "header" and p["name"].lower() == "idempotency-key"
                     for p in params)
    statuses = {429, 503}
    if has_body or idempotent:
        statuses.add(400)
    if secured:
        statuses |= {401, 403, 404}
    if writes:
        statuses |= {409, 413, 422}
    if params or has_body:
        statuses.add(422)
    if idempotent:
        statuses.add(504)
    return sorted(statuses)


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": ERRORS[status],
                                "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {
            "description": "seconds to wait before retrying", "required": status == 429,
            "schema": {"type": "integer", "minimum": 1}}}
    return response


def shape(doc: dict[str, Any]) -> dict[str, Any]:
    """Declare every operation's problem responses and make the Idempotency-Key required."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = ProblemDocument.model_json_schema(
        ref_template="#/components/schemas/{model}")
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's HTTPValidationError, answered as a problem
            for status in error_statuses(method, op):
                responses[str(status)] = problem_response(status)
            for p in op.get("parameters", []):
                if p["in"] == "header" and p["name"].lower() == "idempotency-key":
                    p["required"] = not path.startswith("/prepare/")  # a prepare sends nothing
                    p["schema"] = {"type": "string", "minLength": 1,
                                   "maxLength": MAX_KEY_LENGTH}
            for status, content in EXTRA_CONTENT.get((path, method), {}).items():
                responses[str(status)].setdefault("content", {}).update(content)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def install(app: FastAPI) -> None:
    """Serve the shaped document (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = shape(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
