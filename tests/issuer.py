"""A token issuer for tests: the development issuer's key in a directory of the test run,
the settings (or, for processes, the environment) that make the API trust it, and the
headers or clients that send its tokens.

Where a test does not care who calls, it calls as an `operator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from adapters.authentication import DevelopmentIssuer
from domain.access import Role, Scope

DEFAULT_ROLE = Role.OPERATOR


@dataclass(frozen=True)
class TokenIssuer:
    issuer: DevelopmentIssuer

    @classmethod
    def create(cls, directory: Path) -> TokenIssuer:
        return cls(DevelopmentIssuer.ensure(directory))

    @property
    def directory(self) -> Path:
        return self.issuer.directory

    @property
    def trusted(self) -> dict[str, Any]:
        """`Settings` fields of an API that trusts this issuer: `Settings(**trusted, ...)`."""
        return {"auth_development_issuer_dir": self.directory}

    @property
    def env(self) -> dict[str, str]:
        """The same, as the environment of a `ledgerflow` process."""
        return {"LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR": str(self.directory)}

    def token(
        self,
        role: Role = DEFAULT_ROLE,
        *,
        subject: str | None = None,
        scopes: list[str] | None = None,
        member_id: UUID | None = None,
        bank_id: UUID | None = None,
        administrator_id: UUID | None = None,
        ttl_seconds: float = 3600,
    ) -> str:
        return self.issuer.token(
            role,
            subject=subject,
            scopes=scopes,
            member_id=member_id,
            bank_id=bank_id,
            administrator_id=administrator_id,
            ttl_seconds=ttl_seconds,
        )

    def headers(self, role: Role = DEFAULT_ROLE, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    def as_client(self, subject: str = "test-client", *scopes: Scope) -> dict[str, str]:
        """The headers of a `client` token of `subject`, with `scopes` (none: all)."""
        named = [scope.value for scope in scopes or tuple(Scope)]
        return self.headers(Role.CLIENT, subject=subject, scopes=named)

    def client(self, base_url: str, role: Role = DEFAULT_ROLE, **options: Any) -> httpx.Client:
        """An httpx client of the API at `base_url` that sends a token of `role`."""
        headers = {**self.headers(role), **options.pop("headers", {})}
        return httpx.Client(base_url=base_url, headers=headers, **options)
