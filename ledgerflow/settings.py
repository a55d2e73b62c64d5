"""Settings from the environment (`LEDGERFLOW_` prefix, plus `DATABASE_URL` and `AMQP_URL`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "LEDGERFLOW_DATABASE_URL")
    )
    amqp_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AMQP_URL", "LEDGERFLOW_AMQP_URL")
    )

    # Connection pools: every process opens one Application per workflow it serves.
    pool_size: int = Field(default=1, ge=1, description="eventsourcing pool size per application")
    pool_max_overflow: int = Field(default=4, ge=0)
    side_pool_size: int = Field(default=4, ge=1, description="psycopg pool for read models/work")

    # The work engine.
    worker_concurrency: int = Field(default=100, ge=1, description="calls in flight per worker")
    work_lease_seconds: float = Field(default=30.0, gt=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_cap_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    outbound_timeout_seconds: float = Field(default=5.0, gt=0)

    # Third parties: when unset, `ledgerflow up` starts the simulator and fills it in.
    sms_provider_url: str = "http://127.0.0.1:8101"

    # orders (settings of the orders workflow go here)

    # billing (settings of the billing workflow go here)

    # lending (settings of the lending workflow go here)

    # reimbursements (settings of the reimbursements workflow go here)

    # Test mode allows moving the platform clock for every process (PUT /__admin/clock).
    test_mode: bool = False

    log_level: str = "INFO"
    opentelemetry: bool = Field(
        default=False, description="FastAPI's native OpenTelemetry (OTEL_* variables)"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
