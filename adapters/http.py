"""The one HTTP client factory every adapter uses: `build_async_client(party, ...)` makes
the client of one third party from its settings (`ThirdPartyClient`): mutual TLS, the CA
the party's certificate must chain to, a proxy, a cap on answers. Its errors say whether a
request can have gone out (`adapters.http_client`).

Proxies: the party's `proxy` when set; otherwise `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
and `NO_PROXY` from the environment, as httpx reads them.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from adapters.http_client import AiohttpPartyClient, PartyClient

MIB = 1 << 20


class ThirdPartyClient(BaseModel):
    """How to reach one third party over HTTP. Every field is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_cert: Path | None = Field(
        default=None, description="PEM certificate (and chain) shown to the party: mutual TLS"
    )
    client_key: Path | None = Field(
        default=None, description="its PEM private key, unless in the certificate's file"
    )
    client_key_password: SecretStr | None = None
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM CA certificates the party's certificate must chain to, in place of"
        " the usual ones",
    )
    proxy: str | None = Field(
        default=None,
        description="http:// or https:// proxy for every call to the party; when unset,"
        " HTTPS_PROXY/HTTP_PROXY/NO_PROXY",
    )
    max_response_bytes: int = Field(
        default=MIB, ge=1, description="a longer answer is an error (the request went out)"
    )
    transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp",
        description="aiohttp (through httpx-aiohttp): cheap per call with many in flight;"
        " httpx: httpx's own (httpcore), whose pool costs milliseconds of CPU per call"
        " once tens of connections are open",
    )

    @field_validator("proxy")
    @classmethod
    def _proxy_is_http(cls, proxy: str | None) -> str | None:
        if proxy is not None and httpx.URL(proxy).scheme not in ("http", "https"):
            raise ValueError("the proxy is an http:// or https:// URL")
        return proxy

    @model_validator(mode="after")
    def _key_goes_with_a_certificate(self) -> ThirdPartyClient:
        if self.client_cert is None and (self.client_key or self.client_key_password):
            raise ValueError("a client key needs its client certificate")
        return self


# An idle connection is dropped before the party's server drops it: servers commonly keep
# one for 5 s (uvicorn, gunicorn), and a request sent on a connection the server has just
# closed fails unanswered. After a quiet spell (a breaker open for 5 s) every pooled
# connection was at that edge, and the burst of such failures opened the breaker again.
KEEPALIVE_SECONDS = 4.0


def build_async_client(
    party: ThirdPartyClient, *, timeout_seconds: float, max_connections: int
) -> httpx.AsyncClient:
    """The client of one party, at most `max_connections` calls in flight (the rest wait
    up to the timeout for a connection); close it with `aclose()`."""
    client_class = AiohttpPartyClient if party.transport == "aiohttp" else PartyClient
    return client_class(
        max_response_bytes=party.max_response_bytes,
        verify=tls_context(party),
        proxy=party.proxy,  # when None, the environment's (trust_env)
        trust_env=True,
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_SECONDS,
        ),
        timeout=httpx.Timeout(timeout_seconds),
    )


def tls_context(party: ThirdPartyClient) -> ssl.SSLContext:
    """Verifies the party against its CA bundle (or the usual CAs); shows the client
    certificate, if any. Reads the files now: a missing one fails at start."""
    if party.ca_bundle is not None:
        context = ssl.create_default_context(cafile=party.ca_bundle)
    else:
        context = httpx.create_ssl_context()
    if party.client_cert is not None:
        password = party.client_key_password
        context.load_cert_chain(
            party.client_cert,
            party.client_key,
            password=password.get_secret_value() if password else None,
        )
    return context
