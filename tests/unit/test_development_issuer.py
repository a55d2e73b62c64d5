"""The development issuer: `ledgerflow token` signs what the API then accepts, and
production refuses to run as its own issuer or in test mode, in every process."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from adapters.authentication import DevelopmentIssuer
from domain.access import Principal, Role, Scope
from ledgerflow.authentication import NoTrustedIssuer, development_issuer_dir, trust
from ledgerflow.cli import app
from ledgerflow.settings import Settings

runner = CliRunner()


def _verify(data_dir: Path, token: str) -> Principal:
    settings = Settings(auth_development_issuer_dir=development_issuer_dir(data_dir))
    return asyncio.run(trust(settings).verifier.principal(token.encode()))


def _said(result: Result) -> str:
    """What a command printed and raised, in one line, without rich's boxes."""
    text = f"{result.output} {result.exception or ''}"
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def test_a_token_from_the_cli_is_accepted_with_its_role_and_claims(tmp_path: Path) -> None:
    DevelopmentIssuer.ensure(development_issuer_dir(tmp_path))
    signed = runner.invoke(
        app,
        ["token", "--data-dir", str(tmp_path), "--role", "client", "--scope", "sms:send sms:read"],
    )
    assert signed.exit_code == 0, signed.output
    principal = _verify(tmp_path, signed.output.strip())
    assert principal.role is Role.CLIENT
    assert principal.subject == "dev-client"
    assert principal.scopes == {"sms:send", "sms:read"}

    every_scope = runner.invoke(app, ["token", "--data-dir", str(tmp_path), "--role", "client"])
    all_scopes = {scope.value for scope in Scope}
    assert _verify(tmp_path, every_scope.output.strip()).scopes == all_scopes

    bank, administrator = uuid.uuid4(), uuid.uuid4()
    admin = runner.invoke(
        app,
        [
            *("token", "--data-dir", str(tmp_path), "--role", "bank_admin", "--bank", str(bank)),
            *("--administrator", str(administrator), "--subject", "ada", "--ttl", "60"),
        ],
    )
    principal = _verify(tmp_path, admin.output.strip())
    assert (principal.role, principal.subject) == (Role.BANK_ADMIN, "ada")
    assert (principal.bank_id, principal.administrator_id) == (bank, administrator)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--role", "member"], "names its member"),
        (["--role", "bank_admin", "--bank", str(uuid.uuid4())], "bank and administrator"),
        (["--role", "operator", "--scope", "sms:send"], "only a client"),
        (["--role", "client", "--scope", "sms:delete"], "unknown scopes"),
        (["--role", "system"], "unknown role"),
        (["--role", "root"], "unknown role"),
    ],
)
def test_the_cli_refuses_a_token_that_would_not_say_who_calls(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    DevelopmentIssuer.ensure(development_issuer_dir(tmp_path))
    refused = runner.invoke(app, ["token", "--data-dir", str(tmp_path), *args])
    assert refused.exit_code == 2
    assert reason in _said(refused)


def test_the_cli_needs_an_issuer_made_by_up(tmp_path: Path) -> None:
    refused = runner.invoke(app, ["token", "--data-dir", str(tmp_path), "--role", "operator"])
    assert refused.exit_code == 2
    assert "ledgerflow up" in _said(refused)


def test_the_issuer_keeps_its_key_and_it_is_private(tmp_path: Path) -> None:
    first = DevelopmentIssuer.ensure(tmp_path / "issuer")
    again = DevelopmentIssuer.ensure(tmp_path / "issuer")
    assert again.kid == first.kid and again.jwks() == first.jwks()
    assert (tmp_path / "issuer" / "signing-key.pem").stat().st_mode & 0o077 == 0
    assert "d" not in first.public_jwk()  # the JWKS shows no private part


def test_an_api_that_trusts_no_issuer_does_not_start() -> None:
    with pytest.raises(NoTrustedIssuer, match="LEDGERFLOW_AUTH_ISSUER"):
        trust(Settings())


def test_production_refuses_test_mode_and_the_development_issuer(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="refuses LEDGERFLOW_TEST_MODE"):
        Settings(environment="production", test_mode=True)
    with pytest.raises(ValidationError, match="refuses the development issuer"):
        Settings(environment="production", auth_development_issuer_dir=tmp_path)
    production = Settings(
        environment="production",
        auth_issuer="https://id.example/realms/ledgerflow",
        auth_jwks_url="https://id.example/realms/ledgerflow/protocol/openid-connect/certs",
    )
    assert production.auth_issuer


@pytest.mark.parametrize(
    ("command", "env", "reason"),
    [
        (["up"], {}, "its own token issuer"),
        (["worker", "sms"], {"LEDGERFLOW_TEST_MODE": "true"}, "refuses LEDGERFLOW_TEST_MODE"),
        (["api"], {"LEDGERFLOW_TEST_MODE": "true"}, "refuses LEDGERFLOW_TEST_MODE"),
        (["token", "--role", "operator"], {}, "trusts no development issuer"),
    ],
)
def test_no_process_starts_in_production_as_its_own_issuer_or_in_test_mode(
    command: list[str], env: dict[str, str], reason: str
) -> None:
    result = runner.invoke(app, command, env={"LEDGERFLOW_ENVIRONMENT": "production", **env})
    assert result.exit_code != 0
    assert reason in _said(result)


def test_settings_trust_one_issuer_at_a_time(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="trust one issuer"):
        Settings(auth_development_issuer_dir=tmp_path, auth_jwks_url="http://id/certs")
    with pytest.raises(ValidationError, match="go together"):
        Settings(auth_issuer="http://id/realms/ledgerflow")
