"""The deployment files, checked where they cannot run: there is no Docker engine and no
network to Terraform's registry here, so `docker-compose.yml`, the `Dockerfile` and
`infrastructure/` are parsed, and what would otherwise fail only at deploy time is
checked: every container runs a real `ledgerflow` command with real names, every
setting is one the platform reads, every third party's URL reaches its simulator, every
variable and module input is declared, the Keycloak realm gives the tokens the
platform's settings expect (its roles, its audience, the role's claims, its scopes),
Prometheus scrapes every process on its metrics port, which no load balancer exposes, for
a dashboard that charts the series the platform exports (README's Metrics table lists
each, with its labels), and the CI workflow runs the README's test command against the
services it needs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hcl2
import typer.main
import yaml

from adapters.processes import ProcessRecord
from adapters.status import FollowerLag, WorkBacklog
from adapters.status_metrics import PlatformStatus, PlatformStatusCollector
from adapters.work.metrics import OUTBOUND_CALLS, WORK_PARKED
from api.metrics import HTTP_REQUESTS
from domain.access import TOKEN_ROLES, Actor, Role, Scope
from domain.health import Health
from ledgerflow.cli import app
from ledgerflow.settings import Settings
from ledgerflow.workers import workers
from ledgerflow.workflows import WORKFLOWS
from processes.reimbursements.demo_banks import demo_banks
from projections.parked import ParkedSummary
from simulators.registry import SIMULATORS

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ROOT / "infrastructure"
REALM = INFRASTRUCTURE / "keycloak" / "ledgerflow-realm.json"
ENVIRONMENTS = ("development", "staging", "production")


# What the platform offers ------------------------------------------------------------


def _cli() -> Any:
    """The CLI as click sees it (typer carries its own click: groups are told apart by
    their subcommands, not by class)."""
    return typer.main.get_command(app)


def _names() -> dict[str, set[str]]:
    """The names each command takes as its argument."""
    return {
        "worker": set(workers()),
        "simulator": set(SIMULATORS),
        "seed": {name for cls in WORKFLOWS for name in cls.seeds},
    }


def _check_command(args: list[str]) -> None:
    """`ledgerflow <args>` names a real command, argument and options."""
    group = _cli()
    assert args and args[0] in group.commands, f"no command ledgerflow {args[:1]}"
    command = group.commands[args[0]]
    rest = args[1:]
    if hasattr(command, "commands"):
        assert rest and rest[0] in command.commands, f"no command ledgerflow {args[:2]}"
        command, rest = command.commands[rest[0]], rest[1:]
    if args[0] in _names() and rest and not rest[0].startswith("-"):
        assert rest[0] in _names()[args[0]], f"ledgerflow {args[0]}: no {rest[0]!r}"
    options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    for arg in rest:
        if arg.startswith("--"):
            assert arg in options, f"ledgerflow {args[0]} has no option {arg}"


def _settings() -> set[str]:
    """Every environment variable the platform reads."""
    return {"DATABASE_URL", "AMQP_URL"} | {
        f"LEDGERFLOW_{name.upper()}" for name in Settings.model_fields
    }


def _third_parties() -> dict[str, str]:
    """Simulator name -> the setting that points the platform at that third party."""
    return {name: var for cls in WORKFLOWS for name, var in cls.simulators.items()}


# docker-compose.yml ------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _platform_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if str(service.get("image", "")).startswith("ledgerflow")
    }


def test_the_compose_file_has_the_name_compose_reads_first() -> None:
    # `docker compose` would read a `compose.yaml` before `docker-compose.yml`.
    assert (ROOT / "docker-compose.yml").is_file()
    assert not [name for name in ("compose.yaml", "compose.yml") if (ROOT / name).exists()]


def test_every_compose_service_of_ours_runs_a_real_command() -> None:
    services = _platform_services()
    for name, service in services.items():
        assert service.get("build") == ".", f"{name} is not built from this repository"
        _check_command(service["command"])
    commands = [service["command"] for service in services.values()]
    for worker in workers():  # the whole platform, as `ledgerflow up` runs it
        assert ["worker", worker] in commands, f"no service runs worker {worker}"
    for seed in {n for cls in WORKFLOWS for n, on_up in cls.seeds.items() if on_up}:
        assert ["seed", seed] in commands, f"no service loads {seed}"


def test_compose_settings_are_real_and_reach_every_simulator() -> None:
    services = _compose()["services"]
    platform = _platform_services()
    ports = {
        name: service["command"][service["command"].index("--port") + 1]
        for name, service in platform.items()
        if service["command"][0] == "simulator"
    }
    runs = {name: service["command"][1] for name, service in platform.items() if name in ports}
    for name, service in platform.items():
        for depended in service.get("depends_on", {}):
            assert depended in services, f"{name} depends on a missing {depended}"
        environment: dict[str, str] = service.get("environment") or {}
        for key in environment:
            assert key in _settings(), f"{name}: the platform reads no {key}"
        if service["command"][0] in ("api", "worker"):
            for simulator, setting in _third_parties().items():
                host = f"http://{_service_running(runs, simulator)}:"
                assert environment[setting] == host + ports[_service_running(runs, simulator)]


def _service_running(runs: dict[str, str], simulator: str) -> str:
    [service] = [name for name, runs_this in runs.items() if runs_this == simulator]
    return service


# The identity provider (compose's Keycloak and its realm) ------------------------------


def _realm() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(REALM.read_text())
    return loaded


def _access_token_mappers(mappers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Protocol mappers that put a claim in the access token, by the claim they set."""
    return {
        mapper["config"].get("claim.name", mapper["protocolMapper"]): mapper
        for mapper in mappers
        if mapper["config"].get("access.token.claim") == "true"
    }


def test_the_realm_issues_the_tokens_the_platform_reads() -> None:
    realm, defaults = _realm(), Settings()
    assert {role["name"] for role in realm["roles"]["realm"]} == {r.value for r in TOKEN_ROLES}
    [client] = [c for c in realm["clients"] if c["clientId"] == defaults.auth_audience]
    claims = _access_token_mappers(client["protocolMappers"])
    [audience] = [m for m in claims.values() if m["protocolMapper"] == "oidc-audience-mapper"]
    assert audience["config"]["included.client.audience"] == defaults.auth_audience
    for claim in ("member_id", "bank_id", "administrator_id"):  # user attributes -> claims
        assert claims[claim]["protocolMapper"] == "oidc-usermodel-attribute-mapper"
        assert claims[claim]["config"]["user.attribute"] == claim
    scopes = {scope["name"]: scope for scope in realm["clientScopes"]}
    granted = client["defaultClientScopes"] + client["optionalClientScopes"]
    for scope in Scope:  # each a client scope, named in the `scope` claim when granted
        assert scopes[scope.value]["attributes"]["include.in.token.scope"] == "true"
        assert scope.value in client["optionalClientScopes"]
    roles = _access_token_mappers(
        [m for name in granted if name in scopes for m in scopes[name].get("protocolMappers", [])]
    )
    compose = _compose()["x-platform"]["environment"]
    roles_claim = compose["LEDGERFLOW_AUTH_ROLES_CLAIM"]
    assert roles[roles_claim]["protocolMapper"] == "oidc-usermodel-realm-role-mapper"
    assert "sub" in {m["name"] for m in scopes["basic"]["protocolMappers"]}
    assert "basic" in client["defaultClientScopes"]


def test_the_realm_has_a_user_per_role_with_ids_of_the_demo_data_set() -> None:
    users = {user["realmRoles"][0]: user for user in _realm()["users"]}
    assert set(users) == {role.value for role in TOKEN_ROLES}
    ids = {str(aggregate.id): aggregate for aggregate in demo_banks(ACTOR)}
    member = users[Role.MEMBER]["attributes"]
    assert type(ids[member["member_id"][0]]).__name__ == "BankMember"
    admin = users[Role.BANK_ADMIN]["attributes"]
    administrator = ids[admin["administrator_id"][0]]
    assert str(administrator.bank_id) == admin["bank_id"][0]  # type: ignore[attr-defined]
    for user in users.values():  # nothing left to fill in before a password grant
        assert user["email"] and user["firstName"] and user["lastName"] and user["enabled"]


def test_compose_trusts_its_keycloak_realm() -> None:
    services, realm = _compose()["services"], _realm()
    keycloak = services["keycloak"]
    image, _, tag = keycloak["image"].rpartition(":")
    assert image.endswith("keycloak/keycloak") and re.fullmatch(r"\d+\.\d+\.\d+", tag)
    assert "--import-realm" in keycloak["command"]
    [mount] = keycloak["volumes"]
    source, target = mount.split(":")[:2]
    assert (ROOT / source).resolve() == REALM.parent and target == "/opt/keycloak/data/import"
    hostname = keycloak["environment"]["KC_HOSTNAME"]
    port = int(keycloak["command"][2].split("=")[1])
    for name, service in _platform_services().items():
        environment = service.get("environment") or {}
        if service["command"][0] not in ("api", "worker"):
            continue
        issuer = f"{hostname}/realms/{realm['realm']}"
        assert environment["LEDGERFLOW_AUTH_ISSUER"] == issuer, name
        jwks = f"http://keycloak:{port}/realms/{realm['realm']}/protocol/openid-connect/certs"
        assert environment["LEDGERFLOW_AUTH_JWKS_URL"] == jwks, name
    assert "keycloak" in services["api"]["depends_on"]


# Dockerfile ----------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in lines)
        if line and not line.startswith("#")
    ]


def test_the_image_runs_the_cli_as_a_user_from_the_projects_own_files() -> None:
    instructions = _dockerfile()
    [entrypoint] = [json.loads(arg) for op, arg in instructions if op == "ENTRYPOINT"]
    [cmd] = [json.loads(arg) for op, arg in instructions if op == "CMD"]
    assert entrypoint == ["ledgerflow"]
    _check_command(cmd)
    copied = [arg.split()[0] for op, arg in instructions if op == "COPY"]
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= set(copied)
    [user] = [arg for op, arg in instructions if op == "USER"]
    assert user not in ("root", "0")


# infrastructure/ -----------------------------------------------------------------------


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        # The parser's own keys (`__is_block__`, `__inline_comments__`) are not Terraform's.
        return {_unquote(k): _unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def _load(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of a Terraform directory, by kind, quotes removed."""
    blocks: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as file:
            for kind, items in _unquote(hcl2.load(file)).items():
                blocks.setdefault(kind, []).extend(items)
    return blocks


def _named(blocks: dict[str, list[Any]], kind: str) -> dict[str, Any]:
    return {name: body for item in blocks.get(kind, []) for name, body in item.items()}


def _resources(blocks: dict[str, list[Any]], kind: str) -> dict[str, Any]:
    return {
        name: body
        for item in blocks.get("resource", [])
        for resource_kind, named in item.items()
        if resource_kind == kind
        for name, body in named.items()
    }


def _containers(resource: Any) -> Iterator[dict[str, Any]]:
    """Every container of a deployment's or a job's pod template."""
    for spec in resource["spec"]:
        for template in spec["template"]:
            for pod in template["spec"]:
                yield from pod["container"]


def _directories() -> list[Path]:
    """The root module and its modules."""
    return [INFRASTRUCTURE, *(INFRASTRUCTURE / "modules").iterdir()]


def _object_attributes(type_expression: str) -> set[str]:
    """The attribute names of an `object({name = optional(...), ...})` type."""
    return set(re.findall(r"(\w+) = optional\(", type_expression))


def _environment_files() -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted((INFRASTRUCTURE / "environments").glob("*.tfvars")):
        with path.open() as file:
            files[path.stem] = _unquote(hcl2.load(file))
    return files


def test_the_root_module_gives_every_module_input_and_declares_what_it_uses() -> None:
    root = _load(INFRASTRUCTURE)
    modules = _named(root, "module")
    assert set(modules) == {"cluster", "platform"}
    for name, module in modules.items():
        declared = _named(_load((INFRASTRUCTURE / module["source"]).resolve()), "variable")
        inputs = set(module) - {"source"}
        assert inputs <= set(declared), f"module {name} has no inputs {inputs - set(declared)}"
        required = {var for var, body in declared.items() if "default" not in body}
        assert required <= inputs, f"module {name} needs {required - inputs}"
    for directory in _directories():
        blocks = _load(directory)
        text = "\n".join(path.read_text() for path in directory.glob("*.tf"))
        declared = set(_named(blocks, "variable"))
        used = set(re.findall(r"\bvar\.([a-z_]+)", text))
        assert used <= declared, f"{directory.name}: undeclared {used - declared}"
        for attribute_of, attribute in re.findall(r"\bvar\.(cluster|platform)\.([a-z_]+)", text):
            type_expression = _named(blocks, "variable")[attribute_of]["type"]
            assert attribute in _object_attributes(type_expression), (
                f"no {attribute_of}.{attribute}"
            )
        for name, output in re.findall(r"\bmodule\.([a-z_]+)\.([a-z_]+)", text):
            source = (directory / _named(blocks, "module")[name]["source"]).resolve()
            assert output in _named(_load(source), "output"), f"module {name} has no {output}"
        for variable, body in _named(blocks, "variable").items():
            if variable in ("do_token", "database_url", "amqp_url", "secrets"):
                assert body.get("sensitive") is True, f"{directory.name}: {variable} not sensitive"


def test_each_environment_sizes_the_same_configuration_with_real_settings() -> None:
    variables = _named(_load(INFRASTRUCTURE), "variable")
    files = _environment_files()
    assert sorted(files) == sorted(ENVIRONMENTS)
    assert all(f'"{e}"' in variables["environment"]["validation"][0]["condition"] for e in files)
    for environment, values in files.items():
        assert values["environment"] == environment
        given = {key for key in values if not key.startswith("__")}
        assert given <= set(variables), f"{environment}: no variables {given - set(variables)}"
        for name in ("cluster", "platform"):
            attributes = _object_attributes(variables[name]["type"])
            unknown = set(values.get(name, {})) - attributes
            assert not unknown, f"{environment}: {name} has no {unknown}"
        platform = values.get("platform", {})
        assert set(platform.get("settings", {})) <= _settings()
        assert "authentication" not in values  # each environment's own, never committed
        assert set(platform.get("worker_replicas", {})) <= set(workers())
    assert files["production"].get("platform", {}).get("simulators") in (None, False)


def test_kubernetes_settings_are_real_and_name_the_identity_provider() -> None:
    module = _load(INFRASTRUCTURE / "modules" / "platform")
    text = "\n".join(path.read_text() for path in (INFRASTRUCTURE / "modules").glob("*/*.tf"))
    assert set(re.findall(r"\b(LEDGERFLOW_[A-Z0-9_]+)\b", text)) <= _settings()
    [local] = module["locals"]
    given = {
        setting: re.sub(r"^\$\{var\.authentication\.(\w+)\}$", r"\1", value)
        for setting, value in local["authentication"].items()
        if setting.startswith("LEDGERFLOW_AUTH_")
    }
    assert given == {f"LEDGERFLOW_AUTH_{name.upper()}": name for name in given.values()}
    attributes = set(
        re.findall(
            r"(\w+)\s+= (?:optional\()?string", _named(module, "variable")["authentication"]["type"]
        )
    )
    assert attributes == set(given.values())
    assert local["authentication"]["LEDGERFLOW_ENVIRONMENT"] == "${var.environment}"
    # The defaults Terraform gives are the platform's own.
    root = _named(_load(INFRASTRUCTURE), "variable")["authentication"]["type"]
    defaults = Settings()
    for name in ("audience", "roles_claim", "scope_claim"):
        default = re.search(rf'{name}\s+= optional\(string, "([^"]*)"\)', root)
        assert default and default[1] == getattr(defaults, f"auth_{name}"), name


def test_every_kubernetes_container_runs_a_real_command() -> None:
    module = _load(INFRASTRUCTURE / "modules" / "platform")
    [api] = _containers(_resources(module, "kubernetes_deployment_v1")["api"])
    _check_command(api["args"])
    [worker] = _containers(_resources(module, "kubernetes_deployment_v1")["worker"])
    assert worker["args"] == ["worker", "${each.key}"]
    platform_type = _named(_load(INFRASTRUCTURE), "variable")["platform"]["type"]
    defaults = re.search(r"worker_replicas = optional\(map\(number\), \{([^}]*)\}", platform_type)
    assert defaults, "worker_replicas has no default"
    assert set(re.findall(r"(\w+) =", defaults.group(1))) == set(workers())
    [simulator] = _containers(_resources(module, "kubernetes_deployment_v1")["simulator"])
    _check_command([arg.replace("${each.key}", "sms-provider") for arg in simulator["args"]])
    [local] = module["locals"]
    assert local["third_parties"] == _third_parties()
    [seed] = _containers(_resources(module, "kubernetes_job_v1")["reference_data"])
    assert seed["args"] == ["seed", "${each.key}"]
    seeds = set(re.findall(r'"([a-z-]+)"', local["reference_data"]))
    assert seeds == {n for cls in WORKFLOWS for n, on_up in cls.seeds.items() if on_up}
    for seed_name in seeds:
        _check_command(["seed", seed_name])


# The database migrated first ---------------------------------------------------------


def test_compose_migrates_the_database_before_any_process_uses_it() -> None:
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "migrate"]
    _check_command(migrate["command"])
    assert migrate["restart"] == "no"  # a one-shot step: done once it has succeeded
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in _platform_services().items():
        if name == "migrate" or service["command"][0] == "simulator":
            continue  # simulators use no database
        assert service["depends_on"].get("migrate") == {
            "condition": "service_completed_successfully"
        }, f"{name} may start before the database is migrated"


def test_kubernetes_migrates_the_database_before_any_process_uses_it() -> None:
    module = _load(INFRASTRUCTURE / "modules" / "platform")
    jobs = _resources(module, "kubernetes_job_v1")
    [migrate] = _containers(jobs["migrate"])
    assert migrate["args"] == ["db", "migrate"]
    _check_command(migrate["args"])
    assert jobs["migrate"]["wait_for_completion"] is True
    secrets = [source["secret_ref"] for source in migrate["env_from"] if "secret_ref" in source]
    assert secrets, "the migration job is given no DATABASE_URL"
    # Named after the image: a new release's image migrates again.
    assert "var.image" in jobs["migrate"]["metadata"][0]["name"]
    after_migrate = "${kubernetes_job_v1.migrate}"
    users = {
        "api": _resources(module, "kubernetes_deployment_v1")["api"],
        "worker": _resources(module, "kubernetes_deployment_v1")["worker"],
        "reference_data": jobs["reference_data"],
    }
    for name, resource in users.items():
        assert after_migrate in resource.get("depends_on", []), f"{name} may start first"


# .github/workflows/ci.yml -------------------------------------------------------------

CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# Each service the tests need: its image, port, health check and the setting naming it.
CI_SERVICES = {
    "postgres": ("postgres:", 5432, "pg_isready", "DATABASE_URL"),
    "rabbitmq": ("rabbitmq:", 5672, "rabbitmq-diagnostics", "AMQP_URL"),
    "redis": ("redis:", 6379, "redis-cli ping", "LEDGERFLOW_REDIS_URL"),
}


def _ci_job() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CI_WORKFLOW.read_text())
    triggers = loaded.get("on", loaded.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers and {"push", "pull_request"} <= set(triggers)
    [job] = loaded["jobs"].values()
    return dict(job)


def test_ci_workflow_is_valid_against_githubs_schema() -> None:
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(CI_WORKFLOW),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ci_runs_the_readmes_test_command_against_its_services() -> None:
    job = _ci_job()
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme  # the README's test command, as CI runs it
    [step] = [step for step in job["steps"] if "make test" in step.get("run", "")]
    assert step["run"].split()[:2] == ["make", "test"]
    env = {**job.get("env", {}), **step.get("env", {})}
    assert env.get("CI") == "true"  # a missing service fails its tests, never skips
    in_container = "container" in job  # then services are reached by name, not localhost
    for name, (image, port, health, setting) in CI_SERVICES.items():
        service = job["services"][name]
        assert service["image"].startswith(image), name
        assert f"{port}:{port}" in [str(mapping) for mapping in service["ports"]], name
        options = " ".join(service["options"].split())
        assert f'--health-cmd "{health}' in options and "--health-retries" in options, name
        url = urlsplit(env[setting])
        assert (url.hostname, url.port) == ((name if in_container else "localhost"), port)
        service_env = service.get("env", {})
        if name == "postgres":
            assert (url.username, url.password) == (
                service_env["POSTGRES_USER"],
                service_env["POSTGRES_PASSWORD"],
            )
        if name == "rabbitmq":  # RabbitMQ's `guest` cannot log in from another host
            assert (url.username, url.password) == (
                service_env["RABBITMQ_DEFAULT_USER"],
                service_env["RABBITMQ_DEFAULT_PASS"],
            )


def test_ci_installs_debians_chromium_before_the_tests() -> None:
    job = _ci_job()
    # A Debian image, so `chromium` is the browser at /usr/bin/chromium (Ubuntu's is a snap).
    assert job["container"]["image"].endswith("-bookworm")
    runs = [step.get("run", "") for step in job["steps"]]
    installs = next(i for i, run in enumerate(runs) if "apt-get install" in run)
    assert "chromium" in runs[installs].split()
    assert installs < next(i for i, run in enumerate(runs) if "make test" in run)


# Metrics: Prometheus and Grafana (compose), scrape annotations (Kubernetes) -----------

MONITORING = INFRASTRUCTURE / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "ledgerflow.json"
SAMPLE_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",)}


def _platform_state() -> PlatformStatus:
    """A state with an item of each kind, so every status gauge has a sample."""
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return PlatformStatus(
        at=at,
        lags=[FollowerLag("sms_view", "sms", 1, 2, at)],
        backlog=[WorkBacklog("sms.send", 1, 1, 1, 1, at)],
        parked=[ParkedSummary("sms", "parked", 1, None, None, None)],
        third_parties=[Health("sms-provider")],
        processes=[ProcessRecord("api", "host", 1, at, at, 0, None, None, None)],
    )


def _exported_families() -> dict[str, set[str]]:
    """Every metric family the platform exports -> the names of its samples."""
    state = _platform_state()
    families = [
        *HTTP_REQUESTS.describe(),
        *OUTBOUND_CALLS.describe(),
        *WORK_PARKED.describe(),
        *PlatformStatusCollector(lambda: state).collect(),
    ]
    return {
        family.name: {family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ("",))}
        for family in families
    }


def _exported_labels() -> dict[str, set[str]]:
    """Every metric family the platform exports -> its labels."""
    state = _platform_state()
    # The client library's metrics have no sample until observed: their declared labels.
    declared = {
        family.name: set(metric._labelnames)
        for metric in (HTTP_REQUESTS, OUTBOUND_CALLS, WORK_PARKED)
        for family in metric.describe()
    }
    sampled = {
        family.name: {label for sample in family.samples for label in sample.labels}
        for family in PlatformStatusCollector(lambda: state).collect()
    }
    return declared | sampled


def _served_processes() -> set[str]:
    """The compose services that run a process serving metrics: the API and the workers."""
    return {
        name
        for name, service in _platform_services().items()
        if service["command"][0] in ("api", "worker")
    }


def test_prometheus_scrapes_every_platform_process_on_its_metrics_port() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    [discovery] = job["dns_sd_configs"]
    assert job["metrics_path"] == "/metrics"
    assert set(discovery["names"]) == _served_processes()
    platform = _platform_services()
    for name in discovery["names"]:
        environment = platform[name]["environment"]
        assert environment["LEDGERFLOW_METRICS_PORT"] == str(discovery["port"]), name
        assert environment["LEDGERFLOW_METRICS_HOST"] == "0.0.0.0", name  # reachable in the network
    for name, service in platform.items():  # never published beyond the network
        published = [str(port).rsplit(":", 1)[-1] for port in service.get("ports", [])]
        assert str(discovery["port"]) not in published, f"{name} publishes its metrics port"


def test_compose_runs_prometheus_and_grafana_pinned_and_provisioned() -> None:
    services = _compose()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    for service in (prometheus, grafana):
        image, _, tag = service["image"].rpartition(":")
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), service["image"]
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{source}: not in the repository"
    mounts = {v.split(":")[1]: (ROOT / v.split(":")[0]).resolve() for v in prometheus["volumes"]}
    [config] = [arg.split("=", 1)[1] for arg in prometheus["command"] if "config.file" in arg]
    assert mounts[config] == MONITORING / "prometheus.yml"
    mounts = {
        v.split(":")[1]: (ROOT / v.split(":")[0]).resolve()
        for v in grafana["volumes"]
        if v.startswith("./")
    }
    provisioning = mounts["/etc/grafana/provisioning"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "ledgerflow.yml").read_text())[
        "providers"
    ]
    assert mounts[provider["options"]["path"]] == DASHBOARD.parent
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in services
    dashboard = json.loads(DASHBOARD.read_text())
    assert {t["datasource"]["uid"] for p in _panels(dashboard) for t in p["targets"]} == {
        source["uid"]
    }


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_the_dashboard_charts_every_series_the_platform_exports_and_no_other() -> None:
    families = _exported_families()
    exported = set().union(*families.values())
    queried: set[str] = set()
    for panel in _panels(json.loads(DASHBOARD.read_text())):
        for target in panel["targets"]:
            names = set(re.findall(r"\bledgerflow_\w+", target["expr"]))
            assert names, f"{panel['title']}: a query of no ledgerflow series"
            assert names <= exported, f"{panel['title']}: no series {names - exported}"
            queried |= names
    for family, samples in families.items():
        assert samples & queried, f"no panel shows {family}"


FILE_OF_MODULE = re.compile(r'^\$\{file\("\$\{path\.module\}/([^"]+)"\)\}$')


def test_kubernetes_gives_the_monitoring_stack_the_dashboard_and_scrape_job_compose_uses() -> None:
    directory = INFRASTRUCTURE / "modules" / "platform"
    module = _load(directory)
    config_maps = _resources(module, "kubernetes_config_map_v1")
    expected = {  # each config map -> the file it carries, as compose mounts it
        "grafana_dashboard": DASHBOARD,
        "prometheus_scrape": MONITORING / "prometheus-kubernetes.yml",
    }
    for name, source in expected.items():
        config_map = config_maps[name]
        assert config_map["count"] == "${var.monitoring ? 1 : 0}", name  # one switch for both
        [metadata] = config_map["metadata"]
        assert metadata["namespace"] == "${kubernetes_namespace_v1.ledgerflow.metadata[0].name}"
        [(key, value)] = config_map["data"].items()
        read = FILE_OF_MODULE.match(value)
        assert read, f"{name}: {key} is not read from a file of the repository"
        assert (directory / read.group(1)).resolve() == source, name
        assert key == source.name, name  # the sidecar writes each key as a file of its name
    # What Grafana's dashboard sidecar (Grafana's and kube-prometheus-stack's charts)
    # discovers: a config map labelled grafana_dashboard = "1", its keys *.json.
    [metadata] = config_maps["grafana_dashboard"]["metadata"]
    assert metadata["labels"] == {"grafana_dashboard": "1"}
    assert _named(module, "variable")["monitoring"]["type"] == "bool"
    root = _load(INFRASTRUCTURE)
    assert _named(root, "module")["platform"]["monitoring"] == "${var.platform.monitoring}"
    platform = _named(root, "variable")["platform"]["type"]
    assert re.search(r"monitoring\s+= optional\(bool, true\)", platform)  # on unless turned off


def _readme_metrics_table() -> dict[str, str]:
    """README's Metrics table: each row's series -> its labels cell."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| `")]
    return {series.strip().strip("`"): labels for series, _, labels, _ in rows}


def test_the_readme_lists_every_series_the_platform_exports_with_its_labels() -> None:
    families, labels = _exported_families(), _exported_labels()
    table = _readme_metrics_table()
    assert len(table) >= 10  # the table was found
    listed = {
        family: [series for series in table if series in {family, *samples}]
        for family, samples in families.items()
    }
    assert not [family for family, rows in listed.items() if len(rows) != 1], listed
    assert set(table) == {series for rows in listed.values() for series in rows}  # no other
    for family, [series] in listed.items():
        named = set(re.findall(r"`(\w+)`", table[series]))
        assert labels[family] <= named, f"{series}: labels {labels[family] - named} not listed"
        assert bool(labels[family]) == bool(table[series].strip()), series


def test_kubernetes_pods_serve_metrics_that_the_load_balancer_does_not_expose() -> None:
    module = _load(INFRASTRUCTURE / "modules" / "platform")
    [local] = module["locals"]
    port = local["metrics_port"]
    settings = _resources(module, "kubernetes_config_map_v1")["settings"]["data"]
    assert "LEDGERFLOW_METRICS_PORT = tostring(local.metrics_port)" in settings
    assert 'LEDGERFLOW_METRICS_HOST = "0.0.0.0"' in settings
    annotations = local["scrape_annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    deployments = _resources(module, "kubernetes_deployment_v1")
    for name in ("api", "worker"):
        [template] = deployments[name]["spec"][0]["template"]
        assert template["metadata"][0]["annotations"] == "${local.scrape_annotations}", name
        [container] = _containers(deployments[name])
        ports = {p.get("name"): p["container_port"] for p in container["port"]}
        assert ports["metrics"] == "${local.metrics_port}", name
    [balancer] = _resources(module, "kubernetes_service_v1")["api"]["spec"]
    assert balancer["type"] == "LoadBalancer"
    assert [p["target_port"] for p in balancer["port"]] == [8000]  # the API's port alone
    # The cluster's scrape job keys on the annotations the pods carry.
    scrape = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    [job] = scrape["scrape_configs"]
    keyed = {
        label
        for rule in job["relabel_configs"]
        for label in rule["source_labels"]
        if label.startswith("__meta_kubernetes_pod_annotation_")
    }
    assert keyed == {
        "__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)
        for key in annotations
    }
