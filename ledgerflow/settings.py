"""Settings from the environment (`LEDGERFLOW_` prefix, plus `DATABASE_URL` and `AMQP_URL`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.http import ThirdPartyClient
from adapters.rate_limiter import parse_rate_limit

# -- Third parties' HTTP clients ----------------------------------------------------------
# One `ThirdPartyClient` per party, from LEDGERFLOW_<PARTY>_CLIENT_CERT, _CLIENT_KEY,
# _CLIENT_KEY_PASSWORD, _CA_BUNDLE, _PROXY, _MAX_RESPONSE_BYTES and _TRANSPORT, PARTY being
# the party's name in capitals with underscores (LEDGERFLOW_PAYMENT_PROVIDER_PROXY, ...).

ThirdParty = Literal[
    "sms-provider", "exchange", "payment-provider", "bank-partner", "payment-rail", "mailbox"
]
THIRD_PARTIES: tuple[ThirdParty, ...] = get_args(ThirdParty)


class ThirdPartySettings(ThirdPartyClient, BaseSettings):
    """A `ThirdPartyClient` read from its party's environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def of(cls, party: ThirdParty) -> ThirdPartySettings:
        prefix = f"LEDGERFLOW_{party.upper().replace('-', '_')}_"
        return cls(_env_prefix=prefix)  # type: ignore[call-arg]  # pydantic-settings' own


def third_parties_from_environment() -> dict[ThirdParty, ThirdPartyClient]:
    return {party: ThirdPartySettings.of(party) for party in THIRD_PARTIES}


# -- Abuse limits and request hygiene -----------------------------------------------------
# Per-client rate limits (adapters/rate_limiter.py, api/rate_limits.py), the SMS
# destination countries each client may text (domain/sms/destinations.py) and the request
# body size limit (api/body_limit.py), from LEDGERFLOW_ variables.


class AbuseLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_", extra="ignore", frozen=True)

    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db shared by every API process for the rate limits;"
        " unset: each process counts in its own memory",
    )
    rate_limit_sms: str = Field(
        default="100/second", description="POST /sms per client, in the limits notation"
    )
    rate_limit_orders: str = Field(
        default="1000/second", description="POST /orders per client, in the limits notation"
    )
    rate_limit_lease_share: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="share of a window's limit a process takes from its storage at a time:"
        " one Redis round trip per this many requests; a client at its limit may get up to"
        " this share less per other API process (adapters/rate_limiter.py)",
    )
    sms_allowed_countries: dict[str, list[str]] | None = Field(
        default=None,
        description='JSON: {"client-a": ["KE", "TZ"], "*": ["KE"]}; "*" for the clients not'
        " listed (without it they are not restricted); unset: every country allowed",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1, description="larger bodies: 413")

    @field_validator("rate_limit_sms", "rate_limit_orders")
    @classmethod
    def _notation(cls, value: str) -> str:
        parse_rate_limit(value)  # ValueError when not the library's notation
        return value

    @field_validator("sms_allowed_countries")
    @classmethod
    def _countries(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if value is None:
            return None
        for codes in value.values():
            for code in codes:
                if not (len(code) == 2 and code.isalpha()) and code != "001":
                    raise ValueError(
                        f"{code!r} is not a country: ISO 3166 alpha-2 (KE) or 001 (non-geographic)"
                    )
        return {client: [code.upper() for code in codes] for client, codes in value.items()}

    @property
    def rate_limits(self) -> dict[str, str]:
        """Endpoint (as api/rate_limits.py names it) -> its limit per client."""
        return {"sms": self.rate_limit_sms, "orders": self.rate_limit_orders}


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
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU priority given up by `ledgerflow worker` processes, so the API answers"
        " first when the machine is busy (0: same as the API)",
    )
    follower_min_interval_seconds: float = Field(
        default=0.05,
        ge=0,
        description="under a steady stream of events, work schedulers and the relay catch up"
        " at most this often, a batch per transaction (0: on every commit)",
    )
    projection_min_interval_seconds: float = Field(
        default=0.25,
        ge=0,
        description="the same for read models: a longer batch folds more of an aggregate's"
        " events into one row write (0: on every commit)",
    )
    work_lease_seconds: float = Field(default=30.0, gt=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_cap_seconds: float = Field(default=60.0, gt=0)
    retry_budget_seconds: float = Field(
        default=120.0,
        gt=0,
        description="work that may give up (SMS, mail, payment start, charges) is retried for"
        " this long after it first became due, then parked for an operator",
    )
    outbound_timeout_seconds: float = Field(default=5.0, gt=0)

    # Third parties: when unset, `ledgerflow up` starts the simulator and fills it in.
    sms_provider_url: str = "http://127.0.0.1:8101"

    # orders (settings of the orders workflow go here)
    exchange_url: str = "http://127.0.0.1:8103"
    exchange_in_process: bool = Field(
        default=False, description="place orders with the template's blocking function"
    )
    orders_execution_reports: bool = Field(
        default=True, description="the ingester consumes the exchange's execution reports"
    )
    orders_report_batch: int = Field(default=2000, ge=1, description="reports per save")

    # billing (settings of the billing workflow go here)
    payment_provider_url: str = "http://127.0.0.1:8104"
    billing_timezone: str = Field(default="UTC", description="where 'the first' is")
    billing_scheduler: bool = Field(default=True, description="start each month's run")
    billing_scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    billing_dunning_days: list[float] = Field(
        default=[1, 3, 7], description="after a decline, retry after these days; then uncollectible"
    )
    billing_calls_in_flight: int | None = Field(
        default=None, ge=1, description="provider calls in flight per billing worker"
    )

    # lending (settings of the lending workflow go here)
    bank_partner_url: str = "http://127.0.0.1:8000"
    lending_poll_interval_seconds: float = Field(
        default=2.0, gt=0, description="how often a pending application's job is polled"
    )
    lending_deadline_seconds: float = Field(
        default=120.0, gt=0, description="still pending this long after submission: flagged"
    )

    # reimbursements (settings of the reimbursements workflow go here)
    payment_rail_url: str = "http://127.0.0.1:8105"
    mailbox_url: str = "http://127.0.0.1:8106"
    reimbursements_mailer: str = Field(
        default="mailbox",
        pattern="^(mailbox|smtp)$",
        description="mailbox: the HTTP mailbox simulator; smtp: a real SMTP server",
    )
    reimbursements_smtp_host: str = "127.0.0.1"
    reimbursements_smtp_port: int = Field(default=25, ge=1, le=65535)
    reimbursements_smtp_starttls: bool = False
    reimbursements_smtp_username: str | None = None
    reimbursements_smtp_password: str | None = None
    reimbursements_mail_from: str = "reimbursements@ledgerflow.example"
    reimbursements_payment_poll_seconds: float = Field(default=2.0, gt=0)
    reimbursements_payment_deadline_seconds: float = Field(default=86400.0, gt=0)

    # Third parties' HTTP clients (see "Third parties' HTTP clients" below).
    third_parties: dict[ThirdParty, ThirdPartyClient] = Field(
        default_factory=third_parties_from_environment
    )

    # Rate limits, SMS destinations, body size (see "Abuse limits and request hygiene").
    abuse_limits: AbuseLimits = Field(default_factory=AbuseLimits)

    # The API's write guarantees (api/idempotency.py, api/read_your_writes.py).
    idempotency_key_hours: float = Field(
        default=24.0, ge=24.0, description="how long an Idempotency-Key's answer is kept"
    )
    read_your_writes_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="how long a list waits for its read model to reach a Ledgerflow-Position",
    )

    # Test mode allows moving the platform clock for every process (PUT /__admin/clock).
    test_mode: bool = False

    environment: Literal["development", "staging", "production"] = Field(
        default="development",
        description="production refuses test mode and the development issuer",
    )

    # Who is calling: bearer tokens (JWTs) of one trusted issuer.
    auth_issuer: str | None = Field(default=None, description="`iss` of the accepted tokens")
    auth_jwks_url: str | None = Field(default=None, description="the issuer's JWKS")
    auth_audience: str = Field(default="ledgerflow", description="`aud` the tokens must name")
    auth_roles_claim: str = Field(
        default="roles", description="dotted path of the roles, e.g. realm_access.roles"
    )
    auth_scope_claim: str = Field(default="scope", description="dotted path of the scopes")
    auth_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="clock skew allowed on exp and nbf"
    )
    auth_jwks_refetch_seconds: float = Field(
        default=30.0, ge=0, description="a token of an unknown key refetches the JWKS this rarely"
    )
    auth_development_issuer_dir: Path | None = Field(
        default=None,
        description="trust the development issuer of this directory (`ledgerflow up` sets it)",
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description="keys the operator console's CSRF tokens; give every API process behind"
        " one address the same (unset: each process makes its own)",
    )

    # The process registry (`ledgerflow_processes`): who runs, since when, restarts.
    process_name: str | None = Field(
        default=None,
        description="this process's name in the registry (default: its role, e.g."
        " worker-sms); give each of several processes of one role on a host its own",
    )
    process_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often a process tells the registry it is alive; one not seen for"
        " 3 heartbeats is shown stale",
    )
    log_level: str = "INFO"
    opentelemetry: bool = Field(
        default=False, description="FastAPI's native OpenTelemetry (OTEL_* variables)"
    )
    # Prometheus metrics, on a port of the process's own: never the API's public one.
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve this process's metrics at http://<host>:<port>/metrics (0: a free"
        " port, logged; unset: none, unless `ledgerflow up` gives the process one)",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="the interface the metrics are served on (0.0.0.0 in a container, for"
        " the scraper inside the cluster)",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Settings:
        if self.environment == "production":
            if self.test_mode:
                raise ValueError(
                    "LEDGERFLOW_ENVIRONMENT=production refuses LEDGERFLOW_TEST_MODE: test mode"
                    " lets any caller move the platform's clock"
                )
            if self.auth_development_issuer_dir is not None:
                raise ValueError(
                    "LEDGERFLOW_ENVIRONMENT=production refuses the development issuer"
                    " (LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR): its key sits in a directory"
                    " and signs any token; set LEDGERFLOW_AUTH_ISSUER and"
                    " LEDGERFLOW_AUTH_JWKS_URL to trust a real identity provider"
                )
        if self.auth_development_issuer_dir is not None and self.auth_jwks_url:
            raise ValueError(
                "trust one issuer: LEDGERFLOW_AUTH_JWKS_URL or"
                " LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR, not both"
            )
        if bool(self.auth_issuer) != bool(self.auth_jwks_url):
            raise ValueError(
                "LEDGERFLOW_AUTH_ISSUER and LEDGERFLOW_AUTH_JWKS_URL go together: the issuer"
                " whose tokens are accepted, and where its keys are published"
            )
        return self

    def third_party(self, party: ThirdParty) -> ThirdPartyClient:
        """How to reach `party` over HTTP."""
        return self.third_parties.get(party) or ThirdPartyClient()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
