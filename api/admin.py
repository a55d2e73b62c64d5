"""The platform's clock: operators and auditors read it; in test mode alone, operators
move it for every process at once (`test_mode_router`, served only then)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from adapters.clock import SharedOffsetClock
from api.access import Operator, Reader
from api.deps import Services
from api.errors import error_response
from domain.requests import STRICT

router = APIRouter(prefix="/__admin", tags=["test mode"])
test_mode_router = APIRouter(prefix="/__admin", tags=["test mode"])


# A century either way: far enough for any test, near enough for every date type.
MAX_OFFSET_SECONDS = 100 * 366 * 24 * 3600


class ClockSetting(BaseModel):
    model_config = ConfigDict(
        **STRICT, json_schema_extra={"examples": [{"offset_seconds": 864000}]}
    )

    offset_seconds: float = Field(
        ge=-MAX_OFFSET_SECONDS,
        le=MAX_OFFSET_SECONDS,
        allow_inf_nan=False,
        description="How far the platform's time is ahead of real time (a century at most).",
    )


class ClockPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"now": "2026-12-01T00:00:05Z", "offset_seconds": 864000}]}
    )

    now: datetime
    offset_seconds: float


@router.get(
    "/clock",
    response_model=ClockPublic,
    summary="The platform's time and its offset from real time",
    description="The time every process of the platform decides with; the offset is 0 "
    "outside test mode.",
)
async def read_clock(services: Services, caller: Reader) -> ClockPublic | JSONResponse:
    clock = services.clock
    offset = clock.offset.total_seconds() if isinstance(clock, SharedOffsetClock) else 0.0
    return ClockPublic(now=clock.now(), offset_seconds=offset)


@test_mode_router.put(
    "/clock",
    response_model=ClockPublic,
    summary="Move the platform's time (test mode only; operators)",
    description="Sets how far the platform's time is ahead of real time, for every process "
    "at once (each reads it within 200 ms): how tests reach the first of the month or a "
    "deadline without waiting. Served only with `LEDGERFLOW_TEST_MODE=true`.",
)
async def move_clock(
    setting: ClockSetting, services: Services, caller: Operator
) -> ClockPublic | JSONResponse:
    clock = services.clock
    if not isinstance(clock, SharedOffsetClock):
        return error_response(
            403,
            "the clock can only be moved in test mode (LEDGERFLOW_TEST_MODE=true)",
            "test_mode_off",
        )
    await clock.set_offset(timedelta(seconds=setting.offset_seconds))
    return ClockPublic(now=clock.now(), offset_seconds=setting.offset_seconds)
