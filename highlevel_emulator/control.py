"""Control API, part one: settings, keys, reset, locations, installs, webhook deliveries.
Shapes are published in highlevel_emulator/README.md and kept stable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from highlevel_emulator import installs
from highlevel_emulator.errors import ControlError, control_body, json_response
from highlevel_emulator.oauth import emulator
from highlevel_emulator.state import HighLevelEmulator, Location

router = APIRouter(prefix="/_emulator", include_in_schema=True, tags=["control"])


def location_of(emu: HighLevelEmulator, location_id: str) -> Location:
    location = emu.location(location_id)
    if location is None:
        raise ControlError(404, f"unknown location {location_id}")
    return location


@router.get("/health")
async def health() -> JSONResponse:
    return json_response({"status": "ok"})


@router.get("/config")
async def get_config(request: Request) -> JSONResponse:
    return json_response(emulator(request).config.public())


@router.patch("/config")
async def patch_config(request: Request) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    rejected = emu.config.update(body)
    if rejected:
        raise ControlError(400, f"unknown setting or wrong type: {rejected}")
    return json_response(emu.config.public())


@router.get("/webhook-public-key")
async def public_key(request: Request) -> JSONResponse:
    return json_response(emulator(request).keys.public())


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    emulator(request).reset()
    return json_response({"ok": True})


def _text(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{key} must be a non-empty string")
    return value


@router.post("/locations")
async def create_location(request: Request) -> Any:
    body = await control_body(request)
    emu = emulator(request)
    unknown = set(body) - {"location_id", "company_id", "name", "live_mode", "currency"}
    if unknown:
        raise ControlError(400, f"unknown fields: {sorted(unknown)}")
    live = body.get("live_mode", emu.config.live_mode)
    if not isinstance(live, bool):
        raise ControlError(400, "live_mode must be a boolean")
    location = Location(
        _text(body, "location_id", emu.short_id()),
        _text(body, "company_id", emu.short_id()),
        _text(body, "name", "Emulated sub-account"),
        live,
        _text(body, "currency", "USD"),
    )
    if emu.location(location.location_id) is not None:
        raise ControlError(409, f"location {location.location_id} exists")
    emu.add_location(location)
    return json_response(location.public(), status=201)


@router.get("/locations/{location_id}")
async def get_location(request: Request, location_id: str) -> JSONResponse:
    return json_response(location_of(emulator(request), location_id).public())


@router.patch("/locations/{location_id}")
async def patch_location(request: Request, location_id: str) -> JSONResponse:
    body = await control_body(request)
    location = location_of(emulator(request), location_id)
    if set(body) - {"live_mode", "name"}:
        raise ControlError(400, "only live_mode and name can change")
    if "live_mode" in body:
        if not isinstance(body["live_mode"], bool):
            raise ControlError(400, "live_mode must be a boolean")
        location.live_mode = body["live_mode"]
    if "name" in body:
        location.name = _text(body, "name", "")
    return json_response(location.public())


@router.post("/locations/{location_id}/install")
async def install(request: Request, location_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    user_id = body.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise ControlError(400, "user_id must be a string")
    webhook_id = installs.install(emu, location, user_id)
    code = installs.issue_code(emu, location, str(body.get("scope", "")))
    return json_response({"location": location.public(), "code": code, "webhook_id": webhook_id})


@router.post("/locations/{location_id}/uninstall")
async def uninstall(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location = location_of(emu, location_id)
    if not location.installed:
        raise ControlError(409, "the app is not installed on this location")
    webhook_id = installs.uninstall(emu, location)
    return json_response({"location": location.public(), "webhook_id": webhook_id})


@router.post("/locations/{location_id}/expire-tokens")
async def expire_tokens(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location_of(emu, location_id)
    return json_response({"expired": installs.expire_tokens(emu, location_id)})


@router.get("/webhooks")
async def deliveries(request: Request) -> JSONResponse:
    return json_response({"deliveries": list(emulator(request).webhooks.log)})


@router.post("/webhooks/flush")
async def flush(request: Request) -> JSONResponse:
    return json_response(await emulator(request).webhooks.flush())
