"""docker-compose.yml, Dockerfile and .dockerignore: valid, and in line with the code.

No server and no Docker engine is needed: the compose file is validated against the Compose
Specification's JSON schema (vendored in tests/data/, see its README for where it comes from) and
then compared with what the code declares: the service packages under services/, their settings
classes (every environment variable a container gets must be one the code reads, so a typo fails),
the ports in ``gongkai_shared.settings.DEFAULT_PORTS``, the gateway's upstreams, the uv workspace.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from gongkai_shared.settings import DEFAULT_PORTS, CommonSettings
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"

#: Every service package: services/<name>/gongkai_<name>.
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
#: The deployment-wide variables every Gongkai container must get.
REQUIRED_ENV = ("DATABASE_URL", "NATS_URL", "GK_JWT_SECRET")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


# ---- reading the files ----


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def argv(container: dict[str, Any]) -> list[str]:
    command = container.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def process(container: dict[str, Any]) -> tuple[str, str] | None:
    """``(package, process)`` of a ``python -m gongkai_<svc> <process> …`` container."""
    args = argv(container)
    if len(args) >= 4 and args[:2] == ["python", "-m"]:
        return args[2], args[3]
    return None


def env(container: dict[str, Any]) -> dict[str, str]:
    value = container.get("environment") or {}
    if isinstance(value, list):
        return dict(item.partition("=")[::2] for item in value)
    return {k: "" if v is None else str(v) for k, v in value.items()}


def app_containers() -> dict[str, dict[str, Any]]:
    """The containers run from the project's image (the ones with ``build``)."""
    return {name: c for name, c in services().items() if "build" in c}


def migrate_packages(container: dict[str, Any]) -> list[str]:
    return re.findall(r"python -m (gongkai_\w+) migrate\b", " ".join(argv(container)))


def healthcheck_port(container: dict[str, Any], path: str) -> int:
    test = container["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    match = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[^'\"\s]*)", text)
    assert match, f"no http://127.0.0.1:<port>/… in healthcheck {text!r}"
    assert match.group(2) == path, text
    return int(match.group(1))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def interpolate(text: str, values: dict[str, str]) -> str:
    """``text`` with compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` resolved from ``values``."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if name in values:
            return values[name]
        assert operator != ":?", f"{name} is required"
        return argument if operator in {"-", ":-"} else ""

    return INTERPOLATION.sub(one, text)


# ---- what the code declares ----


def package_dir(service: str) -> Path:
    return ROOT / "services" / service / f"gongkai_{service}"


def settings_class(service: str) -> type[BaseSettings]:
    """The settings class that ``gongkai_<svc>/__main__.py`` hands to ``service_main`` (``"module:Class"``)."""
    main = package_dir(service) / "__main__.py"
    for node in ast.walk(ast.parse(main.read_text(encoding="utf-8"))):
        func = getattr(node, "func", None)
        if isinstance(node, ast.Call) and getattr(func, "id", getattr(func, "attr", "")) == "service_main":
            values = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(values) >= 2:
                module, _, name = values[1].partition(":")
                return getattr(importlib.import_module(module), name)
    raise AssertionError(f"{main}: no service_main(package, 'module:Class') call")


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables pydantic-settings reads for ``cls``: env_prefix + field, or the alias."""
    prefix = cls.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        for choice in choices:
            names.add((choice.path[0] if isinstance(choice, AliasPath) else choice).upper())
        if not choices:
            names.add(f"{prefix}{field_name}".upper())
    return names


@cache
def code_env_names(service: str) -> frozenset[str]:
    """Every variable a process of ``service`` reads: CommonSettings, the settings classes of the
    service's settings module, and names its code spells out (``os.environ["…"]``, aliases)."""
    cls = settings_class(service)
    names = env_names(CommonSettings) | env_names(cls)
    module = importlib.import_module(cls.__module__)
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, BaseSettings):
            names |= env_names(value)
    for source in package_dir(service).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.fullmatch(node.value):
                names.add(node.value)
    return frozenset(names)


def unknown_env(variables: dict[str, str], packages: list[str]) -> set[str]:
    """The names in ``variables`` that none of ``packages`` (``gongkai_<svc>``) reads."""
    known: set[str] = set()
    for package in packages:
        known |= code_env_names(package.removeprefix("gongkai_"))
    return {name for name in variables if name.upper() not in known}


def upstream_services() -> list[str]:
    """The services the gateway proxies: its ``<svc>_url`` settings fields."""
    fields = settings_class("gateway").model_fields
    return [s for s in SERVICES if s != "gateway" and f"{s}_url" in fields]


# ---- the schema ----


@cache
def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # "https://json-schema.org/draft-07/schema" (jsonschema knows only the http URL of draft-07)
    assert "/draft-07/schema" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(schema_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def test_compose_file_is_valid_per_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_schema_check_rejects_invalid_compose() -> None:
    """The validation is not vacuous: a misspelt key and a wrong type are reported."""
    broken = copy.deepcopy(compose())
    broken["services"]["postgres"]["healthceck"] = broken["services"]["postgres"].pop("healthcheck")
    broken["services"]["nats"]["depends_on"] = {"postgres": {"condition": "healthy"}}
    errors = schema_errors(broken)
    assert any(e.startswith("services/postgres") for e in errors), errors
    assert any(e.startswith("services/nats") for e in errors), errors


# ---- compose against the code ----


def test_service_packages_are_the_deployed_ones() -> None:
    assert SERVICES, "no services/*/pyproject.toml"
    assert set(SERVICES) == set(DEFAULT_PORTS), "services/ and gongkai_shared.settings.DEFAULT_PORTS differ"
    for service in SERVICES:
        assert package_dir(service).is_dir(), f"services/{service} has no gongkai_{service} package"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_api_and_a_worker_container(service: str) -> None:
    api, worker = services().get(f"{service}-api"), services().get(f"{service}-worker")
    assert api is not None and worker is not None, f"compose lacks {service}-api or {service}-worker"
    assert argv(api) == ["python", "-m", f"gongkai_{service}", "api", "--host", "0.0.0.0"]
    assert argv(worker) == ["python", "-m", f"gongkai_{service}", "worker"]
    for container in (api, worker):
        assert container["build"] == "." and container["image"] == services()["migrate"]["image"]
        assert container["restart"] == "unless-stopped"


def test_every_container_runs_a_process_of_a_service_package() -> None:
    expected = {f"gongkai_{s}" for s in SERVICES}
    for name, container in app_containers().items():
        if name == "migrate":
            continue
        proc = process(container)
        assert proc is not None, f"{name}: command is not `python -m gongkai_<service> …`"
        assert proc[0] in expected and proc[1] in {"api", "worker"}, f"{name}: {proc}"
        assert name == f"{proc[0].removeprefix('gongkai_')}-{proc[1]}", f"{name} runs {proc}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_modules_the_commands_run_exist(service: str) -> None:
    package = f"gongkai_{service}"
    # `python -m <package>`, whose `api` serves <package>.app:create_app and whose `worker` runs
    # <package>.worker.main (gongkai_shared.cli).
    for module in (f"{package}.__main__", f"{package}.app", f"{package}.worker"):
        assert importlib.util.find_spec(module) is not None, f"{module} does not exist"


@pytest.mark.parametrize("service", SERVICES)
def test_api_ports_are_the_default_ports(service: str) -> None:
    port = DEFAULT_PORTS[service]
    api = services()[f"{service}-api"]
    assert "--port" not in argv(api), "the API listens on its default port (DEFAULT_PORTS)"
    assert healthcheck_port(api, "/readyz") == port
    if "expose" in api:
        assert [int(p) for p in api["expose"]] == [port]


def test_the_readiness_endpoint_exists() -> None:
    source = Path(importlib.util.find_spec("gongkai_shared.service").origin).read_text(encoding="utf-8")
    assert '"/readyz"' in source


def test_only_the_gateway_publishes_a_port() -> None:
    published = {name: c["ports"] for name, c in services().items() if c.get("ports")}
    assert list(published) == ["gateway-api"]
    (mapping,) = published["gateway-api"]
    target = mapping["target"] if isinstance(mapping, dict) else str(mapping).rsplit(":", 1)[-1]
    assert int(str(target).split("/")[0]) == DEFAULT_PORTS["gateway"]


def test_every_variable_a_container_gets_is_read_by_the_code() -> None:
    for name, container in app_containers().items():
        variables = env(container)
        proc = process(container)
        packages = migrate_packages(container) if proc is None else [proc[0]]
        assert unknown_env(variables, packages) == set(), f"{name}: variables no code reads"
        for required in REQUIRED_ENV:
            assert variables.get(required), f"{name}: {required} is not set"


def test_a_misspelt_variable_is_caught() -> None:
    variables = {"DATABASE_URL": "", "GK_CATALOG_RELAY_BATCH_SIZE": "", "GK_CATALOG_DATABSE_URL": "", "NAT_URL": ""}
    assert unknown_env(variables, ["gongkai_catalog"]) == {"GK_CATALOG_DATABSE_URL", "NAT_URL"}


def test_servers_are_the_compose_services() -> None:
    for name, container in app_containers().items():
        variables = env(container)
        database = urlsplit(interpolate(variables["DATABASE_URL"], {"POSTGRES_PASSWORD": "secret"}))
        assert database.scheme.startswith("postgresql") and database.hostname == "postgres", name
        assert database.port == 5432 and database.username == services()["postgres"]["environment"]["POSTGRES_USER"]
        assert "${POSTGRES_PASSWORD" in variables["DATABASE_URL"]
        nats = urlsplit(variables["NATS_URL"])
        assert (nats.scheme, nats.hostname, nats.port) == ("nats", "nats", 4222), name
        assert variables["GK_JWT_SECRET"].startswith("${GK_JWT_SECRET:?"), f"{name}: GK_JWT_SECRET must be required"


def test_gateway_upstreams_are_the_service_apis() -> None:
    gateway = services()["gateway-api"]
    variables = env(gateway)
    upstreams = upstream_services()
    assert upstreams
    declared = getattr(importlib.import_module(settings_class("gateway").__module__), "UPSTREAMS", None)
    if declared is not None:
        assert sorted(declared) == sorted(upstreams)
    set_urls = {k for k in variables if re.fullmatch(r"GK_GATEWAY_\w+_URL", k) and k != "GK_GATEWAY_DATABASE_URL"}
    assert set_urls == {f"GK_GATEWAY_{s.upper()}_URL" for s in upstreams}
    for service in upstreams:
        url = urlsplit(variables[f"GK_GATEWAY_{service.upper()}_URL"])
        assert url.scheme == "http" and url.hostname in services(), url.geturl()
        assert process(services()[url.hostname]) == (f"gongkai_{service}", "api"), url.geturl()
        assert url.port == DEFAULT_PORTS[service], url.geturl()
        assert gateway["depends_on"][url.hostname]["condition"] == "service_healthy"


def test_catalog_asks_the_service_apis_it_needs() -> None:
    """The annual report (requests) and the assessment (requests, interpretation, sentiment) call these APIs."""
    for container in ("catalog-api", "catalog-worker"):
        variables = env(services()[container])
        fields = settings_class("catalog").model_fields
        wanted = {
            f"GK_CATALOG_{name.upper()}"
            for name in fields
            if re.fullmatch(r"(requests|interpretation|sentiment)_url", name)
        }
        assert wanted == {"GK_CATALOG_REQUESTS_URL", "GK_CATALOG_INTERPRETATION_URL", "GK_CATALOG_SENTIMENT_URL"}
        for key in wanted:
            url = urlsplit(variables[key])
            service = key.removeprefix("GK_CATALOG_").removesuffix("_URL").lower()
            assert process(services()[url.hostname]) == (f"gongkai_{service}", "api"), url.geturl()
            assert url.port == DEFAULT_PORTS[service], url.geturl()


def test_gateway_bootstrap_administrator_is_configured() -> None:
    variables = env(services()["gateway-api"])
    assert {"GK_ADMIN_USERNAME", "GK_ADMIN_PASSWORD"} <= set(variables)
    assert {"GK_ADMIN_USERNAME", "GK_ADMIN_PASSWORD"} <= code_env_names("gateway")


def test_migrate_runs_every_service_migration_before_anything_starts() -> None:
    migrate = services()["migrate"]
    shell, option, script = argv(migrate)
    assert (shell, option) == ("sh", "-c")
    assert sorted(migrate_packages(migrate)) == sorted(f"gongkai_{s}" for s in SERVICES)
    # one failing migration fails the step (and so nothing starts)
    assert script.count("&&") == len(SERVICES) - 1 or script.startswith("set -e"), script
    assert migrate.get("restart") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, container in app_containers().items():
        if name != "migrate":
            assert container["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
            assert container["depends_on"]["postgres"]["condition"] == "service_healthy", name
            assert container["depends_on"]["nats"]["condition"] == "service_healthy", name


def test_servers_have_healthchecks_and_volumes() -> None:
    postgres, nats = services()["postgres"], services()["nats"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    nats_args = argv(nats)
    assert "-js" in nats_args or "--jetstream" in nats_args
    store = (
        nats_args[nats_args.index("-sd") + 1] if "-sd" in nats_args else nats_args[nats_args.index("--store_dir") + 1]
    )
    assert any(v.endswith(f":{store}") for v in nats["volumes"])
    monitor = (
        nats_args[nats_args.index("-m") + 1] if "-m" in nats_args else nats_args[nats_args.index("--http_port") + 1]
    )
    assert f":{monitor}/healthz?js-enabled-only=true" in " ".join(nats["healthcheck"]["test"])
    declared_volumes = set(compose().get("volumes") or {})
    for container in (postgres, nats):
        for volume in container["volumes"]:
            assert volume.split(":")[0] in declared_volumes, volume


def test_apis_have_healthchecks() -> None:
    for name, container in app_containers().items():
        proc = process(container)
        if proc and proc[1] == "api":
            test = container["healthcheck"]["test"]
            assert test[:3] == ["CMD", "python", "-c"] and "urllib" in test[3], name


def test_interpolated_variables_are_documented_in_env_example() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    for name, operator, _ in INTERPOLATION.findall(text):
        assert name in documented, f"${{{name}}} is not in .env.example"
        if operator == ":?":
            assert re.search(rf"^{name}=", example, flags=re.MULTILINE), f"required {name} is commented out"


# ---- the image ----


def workspace_members() -> dict[str, Path]:
    """Workspace package name -> directory."""
    members = {}
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["uv"]["workspace"]
    for pattern in patterns["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            if (directory / "pyproject.toml").exists():
                project = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))["project"]
                members[project["name"]] = directory
    return members


def copied_sources() -> list[str]:
    sources = []
    for keyword, rest in dockerfile_instructions():
        if keyword in {"COPY", "ADD"}:
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            if "--from=" not in rest:
                sources += args[:-1]
    return sources


def test_dockerfile_copies_existing_paths_not_ignored() -> None:
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    sources = copied_sources()
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert source.rstrip("/").split("/")[0] not in ignored, f"{source} is excluded by .dockerignore"


def test_dockerfile_installs_the_locked_workspace_without_the_dev_runner() -> None:
    instructions = dockerfile_instructions()
    text = " ".join(f"{k} {r}" for k, r in instructions)
    args = dict(re.findall(r"ARG (\w+)=(\S+)", text))
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], r.split()[0]) for k, r in instructions if k == "FROM"]
    assert froms and all(f == "python:3.11-slim" for f in froms), froms
    assert "UV_PYTHON_DOWNLOADS=never" in text
    syncs = [r for k, r in instructions if k == "RUN" and "uv sync" in r]
    assert syncs and all("--frozen" in s and "--no-dev" in s and "--all-packages" in s for s in syncs)
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    locked = {p["name"] for p in lock["package"]}
    left_out = set(re.findall(r"--no-install-package\s+(\S+)", " ".join(syncs)))
    assert left_out <= locked, f"not in uv.lock: {left_out - locked}"
    copied = [ROOT / s for s in copied_sources()]
    for name, directory in workspace_members().items():
        if name not in left_out:
            assert any(directory == c or c in directory.parents for c in copied), f"{name} is not copied"
    for service in SERVICES:
        assert f"gongkai-{service}" in workspace_members()
    users = [r for k, r in instructions if k == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image runs as root"
    runner = ROOT / "gongkai"
    match = re.search(r'^UV_VERSION = "([^"]+)"', runner.read_text(encoding="utf-8"), re.M) if runner.exists() else None
    if match:
        assert args.get("UV_VERSION") == match.group(1), "the image's uv differs from the runner's"


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".git", ".venv", ".data", ".env"} <= ignored
