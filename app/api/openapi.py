"""The OpenAPI document: what FastAPI derives from the routes, completed with what it cannot see.

The two intake routes read their raw body (the signature covers those exact bytes), so FastAPI
sees no body; the API key and the two signatures are checked in code, not declared as security;
every error is answered by app/api/errors.py as `{error, detail, errors?, reason?}`, never as
FastAPI's HTTPValidationError; the card forms answer 303s and the card and OAuth pages HTML.
The callbacks the service sends the CRM are its `webhooks`, one per callback type, generated
from app/integrations/crm/callback_payloads.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import AfterValidator, BeforeValidator
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import core_schema

from app.integrations.crm import event_fields as fields
from app.integrations.crm.callback_payloads import CALLBACK_PAYLOADS, CallbackPayload
from app.integrations.crm.schemas import _EVENT_ADAPTER
from app.integrations.crm.signatures import SIGNATURE_HEADER, SignatureFailure
from app.integrations.quickbooks import webhooks
from app.services.intake import IntakeStatus

Schema = dict[str, Any]
REF = "#/components/schemas/"
JSON = "application/json"
CRM_EVENTS, QBO_WEBHOOKS = "/v1/crm/events", "/v1/qbo/webhooks"
API_KEY_PREFIX, CARD = "/v1/connections", "/v1/card"
HTML_400_PAGES = ("/v1/oauth/connect", "/v1/oauth/callback")

_CRM_SIGNATURE = (
    't=<unix seconds>,v1=<hex HMAC-SHA256(CRM_SIGNING_SECRET, "<t>." + raw body)>, with t '
    "within CRM_SIGNATURE_TOLERANCE_S (300 s by default) of the service's clock."
)
_EVENT_RULES = (
    "One CRM event (docs/design.md §2.1); `id` is its idempotency key. No text anywhere in the "
    "body, ignored fields included, may hold a NUL (\\u0000) or an unpaired surrogate."
)
_WEBHOOK_RULES = (
    "Intuit's legacy or CloudEvents notification. A signed body of neither shape is acknowledged "
    "(200, status unreadable) and logged, since Intuit would retry a refusal forever."
)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json, built on first use and then cached."""

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI) -> Schema:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    components = document.setdefault("components", {})
    components["securitySchemes"] = _security_schemes()
    schemas = components.setdefault("schemas", {})
    _add_schemas(schemas, {**_service_schemas(), **_webhook_schemas()})
    events = _EVENT_ADAPTER.json_schema(
        mode="validation", ref_template=REF + "{model}", schema_generator=_EventSchemaGenerator
    )
    _add_schemas(schemas, events.pop("$defs"))
    document["webhooks"] = _callback_webhooks(schemas)
    notifications = [_ref("QboLegacyWebhook"), {"type": "array", "items": _ref("QboCloudEvent")}]
    paths = document["paths"]
    paths[CRM_EVENTS]["post"]["requestBody"] = _body(events, _EVENT_RULES, JSON)
    paths[QBO_WEBHOOKS]["post"]["requestBody"] = _body(
        {"oneOf": notifications}, _WEBHOOK_RULES, JSON, "application/cloudevents+json"
    )
    for path, item in paths.items():
        for operation in item.values():
            _complete_operation(path, operation)
    # Nothing refers to FastAPI's error shape any more: the service never answers it.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    # Nothing shared between two places (or two apps): a caller may change any part freely.
    result: Schema = json.loads(json.dumps(document))
    return result


def _ref(name: str) -> Schema:
    return {"$ref": REF + name}


def _object(required: list[str], **properties: Any) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _add_schemas(schemas: Schema, added: dict[str, Schema]) -> None:
    for name, definition in added.items():
        if schemas.setdefault(name, definition) != definition:
            raise RuntimeError(f"two different schemas are named {name}")


def _body(schema: Schema, description: str, *media_types: str) -> Schema:
    content = {media: {"schema": schema} for media in media_types}
    return {"required": True, "description": description, "content": content}


def _security_schemes() -> Schema:
    def header(name: str, description: str) -> Schema:
        return {"type": "apiKey", "in": "header", "name": name, "description": description}

    intuit = "base64(HMAC-SHA256(QBO_WEBHOOK_VERIFIER_TOKEN, raw body))."
    return {
        "CrmApiKey": {"type": "http", "scheme": "bearer", "description": "The CRM_API_KEY."},
        "CrmSignature": header(SIGNATURE_HEADER, _CRM_SIGNATURE),
        "IntuitSignature": header(webhooks.SIGNATURE_HEADER, intuit),
    }


def _service_schemas() -> dict[str, Schema]:
    text, count = {"type": "string"}, {"type": "integer", "minimum": 0}
    field_error = _object(["path", "message"], path=text, message=text)
    return {
        "ErrorBody": _object(
            ["error", "detail"],
            error={**text, "description": "A stable code, e.g. invalid_event, unauthorized."},
            detail=text,
            errors={"type": "array", "items": field_error, "description": "Fields that failed."},
            reason={"enum": list(get_args(SignatureFailure)), "description": "X-Signature's."},
        ),
        "EventReceipt": _object(
            ["id", "status"], id=text, status={"enum": [status.value for status in IntakeStatus]}
        ),
        "WebhookReceipt": _object(
            ["status", "accepted", "duplicates"],
            status={"enum": ["ok", "unreadable"]},
            rejected={**count, "description": "Entries skipped as unusable (and logged)."},
            **{name: count for name in ("accepted", "duplicates")},
        ),
        "Readiness": _object(
            ["status"],
            status={"enum": ["ok", "unavailable"]},
            database={"enum": ["ok", "unreachable"]},
            jobs_waiting=count,
            **{name: text for name in ("migrations", "jobs", "error")},
        ),
    }


def _webhook_schemas() -> dict[str, Schema]:
    """Both shapes of docs/design.md §2.2 (qbo-api.md §7.3, §7.4); ids may also come as numbers."""

    def ident(max_length: int = 255) -> Schema:
        return {"type": ["string", "integer"], "minLength": 1, "maxLength": max_length}

    text = {"type": "string"}
    when = {**text, "examples": ["2015-10-05T14:42:19-0700", "2025-09-10T21:31:25Z"]}
    type_ = rf"^qbo\.[a-z0-9_]+\.({'|'.join(webhooks._CLOUDEVENT_VERBS)})\.v[0-9]+$"
    return {
        "QboEntityChange": _object(
            ["name", "id", "operation"],
            name={"enum": sorted(webhooks.QBO_ENTITIES.values())},
            id=ident(),
            operation={"enum": list(webhooks._OPERATIONS)},
            lastUpdated=when,
            deletedId={**ident(), "description": "Merge: the id merged away."},
        ),
        "QboEventNotification": _object(
            ["realmId", "dataChangeEvent"],
            realmId=ident(),
            dataChangeEvent=_object(
                ["entities"], entities={"type": "array", "items": _ref("QboEntityChange")}
            ),
        ),
        "QboLegacyWebhook": _object(
            ["eventNotifications"],
            eventNotifications={"type": "array", "items": _ref("QboEventNotification")},
        ),
        "QboCloudEvent": _object(
            ["specversion", "id", "type", "intuitentityid", "intuitaccountid"],
            specversion={**text, "examples": ["1.0"]},
            id=ident(2048),
            type={**text, "pattern": type_},
            time=when,
            intuitentityid=ident(),
            intuitaccountid={**ident(), "description": "The realm (company) id."},
            data={"type": "object", "description": 'Merge: {"deletedid": "<id>"}.'},
            **{name: text for name in ("source", "datacontenttype")},
        ),
    }


_CALLBACK_RULES = (
    "POSTed to CRM_CALLBACK_URL after the transaction that decided it commits, signed like CRM "
    "events (X-Signature over the exact body, with the first CRM_SIGNING_SECRET). The CRM "
    "deduplicates on `id`: a callback may arrive more than once, and callbacks of one location "
    "arrive in the order they were created."
)
_CALLBACK_ANSWERS: Schema = {
    "2XX": {"description": "Delivered."},
    **{
        status: {"description": "Refused for good: failed, until an operator resends it."}
        for status in ("400", "410", "413", "422")
    },
    "default": {"description": "Any other answer, or none in time: retried with backoff."},
}


def _callback_webhooks(schemas: Schema) -> Schema:
    """One webhook per callback type: the signed envelope, with the type's model as `data`."""
    mode: JsonSchemaMode = "serialization"  # what the CRM receives
    models = [(model, mode) for model in CALLBACK_PAYLOADS]
    _, generated = models_json_schema(models, by_alias=True, ref_template=REF + "{model}")
    definitions = generated["$defs"]
    for definition in definitions.values():
        _never_null_when_left_out(definition)
    _add_schemas(schemas, definitions)
    return {
        model.callback_type: {"post": _callback_operation(model)} for model in CALLBACK_PAYLOADS
    }


def _never_null_when_left_out(definition: Schema) -> None:
    """A key a callback leaves out when it has no value is never sent as null: say so."""
    required = definition.get("required", [])
    for name, prop in definition.get("properties", {}).items():
        branches = prop.get("anyOf", [])
        if name in required or prop.get("default", ...) is not None or len(branches) != 2:
            continue
        prop.update(next(branch for branch in branches if branch != {"type": "null"}))
        del prop["anyOf"], prop["default"]


def _callback_operation(model: type[CallbackPayload]) -> Schema:
    text = {"type": "string"}
    envelope = _object(
        ["id", "type", "occurred_at", "location_id", "data"],
        id={**text, "format": "uuid", "description": "The callback's id; the CRM's dedup key."},
        type={"const": model.callback_type},
        occurred_at={**text, "format": "date-time", "description": "When it was decided (UTC)."},
        location_id=text,
        data=_ref(model.__name__),
    )
    signature = {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": text}
    return {
        "operationId": "callback_" + model.callback_type.replace(".", "_"),
        "summary": model.callback_type,
        "description": f"Sent when: {model.sent_when}. {_CALLBACK_RULES}",
        "parameters": [signature],
        "requestBody": {"required": True, "content": {JSON: {"schema": envelope}}},
        "responses": _CALLBACK_ANSWERS,
    }


def _decimal(places: int) -> Callable[[Schema], Schema]:
    """What event_fields' decimal validator accepts: a non-negative decimal string or number."""
    fraction = f"[0-9]{{0,{places}}}0*"  # trailing zeros do not count as places
    pattern = rf"^\+?(?:0*[0-9]{{1,12}}(?:\.{fraction})?|\.[0-9]{{1,{places}}}0*)$"
    description = (
        f'A decimal string like "19.99" or a JSON number (read exactly, never as a binary float); '
        f"at most {places} decimal places."
    )

    def schema(generated: Schema) -> Schema:
        # Keep the field's own bounds (quantity > 0, tax rate <= 100) pydantic put on the number.
        number = next(branch for branch in generated["anyOf"] if branch.get("type") == "number")
        text = {"type": "string", "maxLength": 64, "pattern": pattern}
        if "exclusiveMinimum" in number:
            text["not"] = {"pattern": r"^\+?0*\.?0*$"}
        limits = {"minimum": 0, "maximum": int(fields.MAX_AMOUNT), **number}
        return {"anyOf": [limits, text], "description": description}

    return schema


_TIMESTAMP = (  # RFC 3339 as event_fields reads it: a zone always, at most nanoseconds
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_BLANK, _INK = r"[ \t\n\r]", r"[^ \t\n\r]"  # blanks str.strip() removes (not all of them)
_EMAIL = rf"^{_BLANK}*$|^{_BLANK}*{_INK}.*@[^@]*[^@ \t\n\r]{_BLANK}*$"


def _email(generated: Schema) -> Schema:
    text = {"type": "string", "pattern": _EMAIL, "description": 'Has an @; blank or "" is none.'}
    return {**generated, "anyOf": [text, {"type": "null"}]}


def _validator_of(annotated: object) -> object:
    marker = get_args(annotated)[1]
    assert isinstance(marker, BeforeValidator | AfterValidator)
    return marker.func


# Fields checked by a validator function, of which pydantic only sees the Python type.
# Quantity and Percent share UnitPrice's validator; dates come out right already.
_FIELD_SCHEMAS: dict[object, Callable[[Schema], Schema]] = {
    _validator_of(fields.Money): _decimal(2),
    _validator_of(fields.UnitPrice): _decimal(6),
    _validator_of(fields.Currency): lambda _: {"type": "string", "pattern": "^[A-Z]{3}$"},
    _validator_of(fields.Timestamp): lambda generated: {**generated, "pattern": _TIMESTAMP},
    _validator_of(fields.Email): _email,
}
_Validated = core_schema.BeforeValidatorFunctionSchema | core_schema.AfterValidatorFunctionSchema


class _EventSchemaGenerator(GenerateJsonSchema):
    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        return _replaced(schema, super().function_before_schema(schema))

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        return _replaced(schema, super().function_after_schema(schema))


def _replaced(schema: _Validated, generated: Schema) -> Schema:
    replace = _FIELD_SCHEMAS.get(schema["function"]["function"])
    return generated if replace is None else replace(generated)


def _complete_operation(path: str, operation: Schema) -> None:
    if path.startswith(API_KEY_PREFIX):
        operation["security"] = [{"CrmApiKey": []}]
    elif path in (CRM_EVENTS, QBO_WEBHOOKS):
        operation["security"] = [{"CrmSignature" if path == CRM_EVENTS else "IntuitSignature": []}]
    responses = operation["responses"]
    if path.startswith(CARD + "/"):
        responses.pop("200", None)  # a card form never answers 200: a 303, or the 403 page
    for status, response in _answers(path, operation.get("requestBody", {})).items():
        responses.setdefault(status, response)
    for status, response in responses.items():
        _declare_body(path, status, response)
    operation["responses"] = dict(sorted(responses.items()))


def _answers(path: str, body: Schema) -> dict[str, Schema]:
    """The answers a route gives that FastAPI does not know of (see app/api/routes)."""
    html = {"text/html": {"schema": {"type": "string"}}}
    answers: dict[str, Schema] = {"413": {"description": "Body over the limit"}} if body else {}
    if JSON in body.get("content", {}) and path not in (CRM_EVENTS, QBO_WEBHOOKS):
        answers["400"] = {"description": "Body unreadable (not UTF-8), before any other check"}
    if path.startswith(API_KEY_PREFIX):
        challenge = {"WWW-Authenticate": {"schema": {"const": "Bearer"}}}
        answers["401"] = {"description": "Missing or wrong bearer key", "headers": challenge}
        if "{location_id}" in path and not path.endswith("/card-link"):
            answers["404"] = {"description": "Unknown location"}
    if path.startswith(CARD + "/"):
        back = "Back to the card with a notice, or (connect) on to Intuit's consent page"
        location = {"Location": {"schema": {"type": "string"}}}
        answers["303"] = {"description": back, "headers": location}
    if path.startswith(CARD):
        answers["403"] = {"description": "Invalid or expired card link (a page)", "content": html}
    if path in HTML_400_PAGES:
        answers["400"] = {"description": "Link used, expired or refused (a page)", "content": html}
    if path.startswith((API_KEY_PREFIX, CARD, *HTML_400_PAGES)) and "card-link" not in path:
        answers["503"] = {"description": "Database unavailable; retry"}
    return answers


# Bodies that are not errors, or not in the error shape.
_BODIES = {
    (CRM_EVENTS, "202"): "EventReceipt",
    (CRM_EVENTS, "200"): "EventReceipt",
    (QBO_WEBHOOKS, "200"): "WebhookReceipt",
    ("/readyz", "200"): "Readiness",
    ("/readyz", "503"): "Readiness",
}


def _declare_body(path: str, status: str, response: Schema) -> None:
    named = _BODIES.get((path, status))
    if named is not None:
        response["content"] = {JSON: {"schema": _ref(named)}}
        return
    content = response.get("content", {})
    fastapi_shape = content.get(JSON, {}).get("schema") == _ref("HTTPValidationError")
    if int(status) < 400 or (content and not fastapi_shape):
        return
    response["content"] = {JSON: {"schema": _ref("ErrorBody")}}
    if status == "503":
        retry = {"schema": {"type": "integer"}, "description": "Seconds"}
        response.setdefault("headers", {})["Retry-After"] = retry
