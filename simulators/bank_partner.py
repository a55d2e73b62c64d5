"""Bank partner simulator: speaks the partner's contract exactly (docs/third-parties.md,
"Bank partner").

- `POST /api/applications`, JSON `{"id": "<uuid>", "first_name": "...", "last_name":
  "..."}` -> `201 {"id", "first_name", "last_name", "status": "pending"}`.
  `400 {"error": "the request payload is not valid."}` when the body is not such an
  object, the id is missing or not a uuid, or a name is missing, not a string or blank
  (our choice: the real partner's rule for names is not published);
  `400 {"error": "the application ID is already used"}` for an id seen before.
- `GET /api/jobs?application_id=<uuid>` -> `200 {"id": "<job id>", "application_id",
  "status": "pending" | "completed" | "rejected"}`; `400 {"error": "application_id is
  missing"}` (absent or empty), `400 {"error": "application_id is not a valid uuid"}`,
  `404 {"error": "failed to get job, the application_id doesn't exist."}`.

The assessment takes a random time in `[min_decision_seconds, max_decision_seconds]` (5
to 20 s), measured by the simulator's clock from the submission; then the job is
`completed` with probability `approval_rate` (0.7, our choice), else `rejected`. Job ids
are uuids distinct from the application ids. Decision times, outcomes and job ids are
drawn from `random.Random(seed)`, so a run is reproducible.

Settings (env prefix `LEDGERFLOW_BANK_PARTNER_`, or `PUT /__admin/settings`): `seed`,
`min_decision_seconds`, `max_decision_seconds`, `approval_rate`. A seed set through
`PUT /__admin/settings` reseeds the draws. `GET /__admin/applications` lists every
application with its submission and decision times, for tests and benchmarks.
Faults and the ledger are the shared control surface of `simulators.control`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators.control import ADMIN_PREFIX, Faults, Simulator, json_body

NAME = "bank-partner"

INVALID_PAYLOAD = "the request payload is not valid."
ALREADY_USED = "the application ID is already used"
ID_MISSING = "application_id is missing"
ID_NOT_UUID = "application_id is not a valid uuid"
UNKNOWN_APPLICATION = "failed to get job, the application_id doesn't exist."

Now = Callable[[], datetime]


class BankPartnerSettings(BaseSettings):
    """Contract-specific behaviour (not faults)."""

    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_BANK_PARTNER_", extra="forbid")

    seed: int = 0
    min_decision_seconds: float = Field(default=5.0, ge=0)
    max_decision_seconds: float = Field(default=20.0, ge=0)
    approval_rate: float = Field(default=0.7, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> BankPartnerSettings:
        if self.max_decision_seconds < self.min_decision_seconds:
            raise ValueError("max_decision_seconds must be at least min_decision_seconds")
        return self


@dataclass
class Assessment:
    application_id: str
    job_id: str
    first_name: str
    last_name: str
    submitted_at: datetime
    decides_at: datetime
    outcome: str  # "completed" | "rejected"

    def status(self, now: datetime) -> str:
        return self.outcome if now >= self.decides_at else "pending"


def _error(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _uuid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def create_app(
    settings: BankPartnerSettings | None = None,
    faults: Faults | None = None,
    *,
    now: Now | None = None,
) -> FastAPI:
    """Build the simulator; settings default to the environment, `now` to the system
    clock (tests pass a clock they move)."""
    simulator = Simulator(NAME, settings or BankPartnerSettings(), faults=faults)
    app = simulator.create_app(title="Bank partner simulator", description=__doc__ or "")
    clock: Now = now or (lambda: datetime.now(UTC))
    assessments: dict[str, Assessment] = {}
    draws = {"seed": simulator.settings.seed, "rng": random.Random(simulator.settings.seed)}

    def rng() -> random.Random:
        if simulator.settings.seed != draws["seed"]:  # reseeded through the settings
            draws["seed"] = simulator.settings.seed
            draws["rng"] = random.Random(simulator.settings.seed)
        generator = draws["rng"]
        assert isinstance(generator, random.Random)
        return generator

    async def create_application(request: Request) -> JSONResponse:
        body = await json_body(request, not_json=lambda: _error(400, INVALID_PAYLOAD))
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body, dict):
            return _error(400, INVALID_PAYLOAD)
        application_id = _uuid(body.get("id"))
        first_name, last_name = body.get("first_name"), body.get("last_name")
        if (
            application_id is None
            or not isinstance(first_name, str)
            or not first_name.strip()
            or not isinstance(last_name, str)
            or not last_name.strip()
        ):
            return _error(400, INVALID_PAYLOAD)
        if application_id in assessments:
            return _error(400, ALREADY_USED)
        config = simulator.settings
        generator = rng()
        delay = generator.uniform(config.min_decision_seconds, config.max_decision_seconds)
        outcome = "completed" if generator.random() < config.approval_rate else "rejected"
        job_id = str(uuid.UUID(int=generator.getrandbits(128), version=4))
        submitted_at = clock()
        assessments[application_id] = Assessment(
            application_id=application_id,
            job_id=job_id,
            first_name=first_name,
            last_name=last_name,
            submitted_at=submitted_at,
            decides_at=submitted_at + timedelta(seconds=delay),
            outcome=outcome,
        )
        answer = {
            "id": application_id,
            "first_name": first_name,
            "last_name": last_name,
            "status": "pending",
        }
        simulator.record(application_id, body, answer)
        return JSONResponse(answer, status_code=201)

    async def job_status(request: Request) -> JSONResponse:
        raw = request.query_params.get("application_id")
        if not raw:
            return _error(400, ID_MISSING)
        application_id = _uuid(raw)
        if application_id is None:
            return _error(400, ID_NOT_UUID)
        assessment = assessments.get(application_id)
        if assessment is None:
            return _error(404, UNKNOWN_APPLICATION)
        return JSONResponse(
            {
                "id": assessment.job_id,
                "application_id": application_id,
                "status": assessment.status(clock()),
            }
        )

    app.add_contract_route("/api/applications", create_application, methods=["POST"])
    app.add_contract_route("/api/jobs", job_status, methods=["GET"])

    @app.get(f"{ADMIN_PREFIX}/applications", tags=["simulator control"])
    async def list_assessments() -> dict[str, Any]:
        """Every application with its submission and decision times (simulator clock)."""
        now_ = clock()
        items = [
            {
                "application_id": a.application_id,
                "job_id": a.job_id,
                "submitted_at": a.submitted_at.isoformat(),
                "decides_at": a.decides_at.isoformat(),
                "outcome": a.outcome,
                "status": a.status(now_),
            }
            for a in assessments.values()
        ]
        return {"count": len(items), "items": items}

    return app
