"""docker-compose.yml and the Dockerfile stay in step with the code they run.

No Docker engine is needed: the compose file is read as YAML and the Dockerfile as text (each image as the
stages its compose build target is made of, with its build args put in), and both are checked against what
the services and the contracts declare (configuration variables, topics, modules); the service stage's
check of its build args runs in /bin/sh.
"""

import json
import re
import shlex
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kutamo_contracts import ALL_TOPICS
from kutamo_identity.config import VARIABLES as IDENTITY_VARIABLES
from kutamo_provisioning.config import VARIABLES as PROVISIONING_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# compose service -> (variables the service reads, module `python -m` must run, port it serves)
APP_SERVICES: dict[str, tuple[dict[str, tuple[bool, str]], str, int]] = {
    "identity": (IDENTITY_VARIABLES, "kutamo_identity", 8000),
    "provisioning": (PROVISIONING_VARIABLES, "kutamo_provisioning", 8001),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services mapping"
    return found


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment whether written as a mapping or as a list of NAME=value."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {name: "" if value is None else str(value) for name, value in raw.items()}


def dockerfile_of(service: dict[str, Any]) -> Path:
    build = service["build"]
    if isinstance(build, str):
        return (COMPOSE_FILE.parent / build / "Dockerfile").resolve()
    context = COMPOSE_FILE.parent / build.get("context", ".")
    return (context / build.get("dockerfile", "Dockerfile")).resolve()


def build_args_of(service: dict[str, Any]) -> dict[str, str]:
    build = service["build"]
    raw = {} if isinstance(build, str) else build.get("args") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {name: str(value) for name, value in raw.items()}


def stages(dockerfile: Path) -> list[tuple[str, str, str]]:
    """(name, what it is FROM, its text) of every stage, with backslash continuations joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    starts = list(re.finditer(r"^\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", text, re.IGNORECASE | re.MULTILINE))
    return [
        (start.group(2) or str(index), start.group(1), text[start.start() : ends.start() if ends else len(text)])
        for index, (start, ends) in enumerate(zip(starts, [*starts[1:], None], strict=True))
    ]


def image_text(service: dict[str, Any], *, rendered: bool = True) -> str:
    """The Dockerfile text that builds a compose service's image: its target stage (the last one when
    compose names none) after the stages it is built FROM, with the service's build args put in."""
    found = stages(dockerfile_of(service))
    by_name = {name: (base, text) for name, base, text in found}
    build = service["build"]
    target = (None if isinstance(build, str) else build.get("target")) or found[-1][0]
    assert target in by_name, f"the Dockerfile has no stage {target!r}"
    chain: list[str] = []
    while target in by_name:
        base, text = by_name[target]
        chain.insert(0, text)
        target = base
    text = "".join(chain)
    return string.Template(text).safe_substitute(build_args_of(service)) if rendered else text


def image_instructions(service: dict[str, Any], keyword: str, *, rendered: bool = True) -> list[str]:
    """Arguments of every `keyword` instruction that builds a compose service's image, in order."""
    pattern = re.compile(rf"^\s*{keyword}\s+(.*)$", re.IGNORECASE | re.MULTILINE)
    return [match.group(1).strip() for match in pattern.finditer(image_text(service, rendered=rendered))]


def image_environment(service: dict[str, Any]) -> dict[str, str]:
    """The variables the image's ENV instructions set (KEY=value form)."""
    return dict(word.split("=", 1) for line in image_instructions(service, "ENV") for word in shlex.split(line))


def command_of(service: dict[str, Any]) -> list[str]:
    """The image's CMD as the process it starts: a `/bin/sh -c "exec ..."` is read with the image's ENV."""
    commands = image_instructions(service, "CMD")
    assert commands, "the image has no CMD"
    command: list[str] = json.loads(commands[-1])
    if command[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(string.Template(command[2]).substitute(image_environment(service)))
        assert words[0] == "exec", "the shell must exec the service, so that it gets the stop signal"
        command = words[1:]
    return command


def topics_created_by_kafka_init(service: dict[str, Any]) -> dict[str, int]:
    command = service.get("command") or []
    script = command if isinstance(command, str) else "\n".join(str(part) for part in command)
    created: dict[str, int] = {}
    for line in script.splitlines():
        words = shlex.split(line)
        if not words or not words[0].endswith("kafka-topics.sh") or "--create" not in words:
            continue
        assert "--if-not-exists" in words, f"topic creation must be repeatable: {line}"
        name = words[words.index("--topic") + 1]
        created[name] = int(words[words.index("--partitions") + 1])
    return created


def test_compose_defines_infrastructure_topic_init_and_both_services(
    services: dict[str, dict[str, Any]],
) -> None:
    assert {"postgres", "kafka", "kafka-init", "identity", "provisioning"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["kafka-init"]["image"] == services["kafka"]["image"]


@pytest.mark.parametrize("name", ["identity", "provisioning", "emulator"])
def test_every_built_service_points_at_a_dockerfile_that_exists(services: dict[str, dict[str, Any]], name: str) -> None:
    dockerfile = dockerfile_of(services[name])
    assert dockerfile.is_file(), f"{name} builds from {dockerfile}, which does not exist"
    assert ROOT in dockerfile.parents
    assert image_text(services[name]), f"{name} builds a stage its Dockerfile lacks"


def test_both_services_and_the_emulator_build_from_the_one_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    built = {dockerfile_of(services[name]) for name in [*APP_SERVICES, "emulator"]}
    assert built == {ROOT / "Dockerfile"}
    others = [
        path.relative_to(ROOT)
        for folder in ("contracts", "kit", "services", "dev", "bench", "examples", "operations")
        for path in (ROOT / folder).rglob("Dockerfile*")
    ]
    assert not others, f"a second Dockerfile would be a copy to keep in step: {others}"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_a_service_image_is_the_service_stage_with_its_name_and_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    _, _, port = APP_SERVICES[name]
    build = services[name]["build"]
    assert build.get("target", stages(dockerfile_of(services[name]))[-1][0]) == "service"
    assert build_args_of(services[name]) == {"SERVICE": name, "PORT": str(port)}
    copied = image_instructions(services[name], "COPY")
    assert f"services/{name} /src/services/{name}" in copied
    assert not any("services/" in line and name not in line for line in copied), "the other service slipped in"


def service_check() -> str:
    """The service stage's first RUN: it refuses a build without a known SERVICE and a PORT."""
    (service,) = [text for name, _, text in stages(ROOT / "Dockerfile") if name == "service"]
    return re.findall(r"^\s*RUN\s+(.*)$", service, re.MULTILINE)[0]


def run_service_check(args: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """That check run as `docker build` runs it: in /bin/sh, the build args in its environment."""
    command = ["/bin/sh", "-c", service_check()]
    return subprocess.run(command, env={"PATH": "/usr/bin:/bin", **args}, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ({}, "SERVICE must be identity or provisioning"),
        ({"SERVICE": "billing", "PORT": "8000"}, "SERVICE must be identity or provisioning"),
        ({"SERVICE": "identity"}, "PORT must be the port the service listens on"),
        ({"SERVICE": "provisioning", "PORT": "80a"}, "PORT must be the port the service listens on"),
    ],
)
def test_a_service_image_without_a_known_service_or_a_port_refuses_to_build_and_says_which_argument(
    args: dict[str, str], refusal: str
) -> None:
    result = run_service_check(args)
    assert result.returncode != 0
    assert refusal in result.stderr
    assert "--build-arg" in result.stderr


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_build_arguments_pass_the_service_images_check(services: dict[str, dict[str, Any]], name: str) -> None:
    args = build_args_of(services[name])
    result = run_service_check(args)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_sets_every_required_variable_of_the_service(services: dict[str, dict[str, Any]], name: str) -> None:
    variables, _, _ = APP_SERVICES[name]
    environment = environment_of(services[name])
    required = {variable for variable, (is_required, _) in variables.items() if is_required}
    missing = sorted(variable for variable in required if not environment.get(variable))
    assert not missing, f"{name} would refuse to start: {missing} not set in docker-compose.yml"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_sets_only_variables_the_service_reads(services: dict[str, dict[str, Any]], name: str) -> None:
    variables, _, _ = APP_SERVICES[name]
    unknown = sorted(set(environment_of(services[name])) - set(variables))
    assert not unknown, f"{name} does not read {unknown}: a typo, or a variable its config.py lacks"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_token_sealing_key_comes_from_the_caller_and_compose_refuses_to_start_without_it(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    value = environment_of(services[name])["TOKEN_SEALING_KEY"]
    assert value.startswith("${TOKEN_SEALING_KEY:?"), value


def test_both_services_share_one_sealing_key_and_one_database(services: dict[str, dict[str, Any]]) -> None:
    identity, provisioning = environment_of(services["identity"]), environment_of(services["provisioning"])
    assert identity["TOKEN_SEALING_KEY"] == provisioning["TOKEN_SEALING_KEY"]
    assert identity["TOKEN_SEALING_KEY_PREVIOUS"] == provisioning["TOKEN_SEALING_KEY_PREVIOUS"]
    for url in (identity["DATABASE_URL"], provisioning["DATABASE_URL"]):
        assert url.startswith("postgresql://")
        assert url.endswith("@postgres:5432/kutamo")


@pytest.mark.parametrize(("name", "role"), [("identity", "kutamo_identity"), ("provisioning", "kutamo_provisioning")])
def test_each_service_logs_in_as_its_own_role_never_the_superuser(
    services: dict[str, dict[str, Any]], name: str, role: str
) -> None:
    user = environment_of(services[name])["DATABASE_URL"].removeprefix("postgresql://").partition(":")[0]
    assert user == role
    assert user != services["postgres"]["environment"]["POSTGRES_USER"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in services["postgres"]["volumes"]}
    script = ROOT / mounts["/docker-entrypoint-initdb.d/10-roles.sh"]
    roles_sql = (ROOT / mounts["/kutamo/roles.sql"]).read_text()
    assert "/kutamo/roles.sql" in script.read_text()
    assert f"alter role {role} password" in script.read_text()
    assert "nosuperuser nobypassrls" in roles_sql


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_services_reach_kafka_and_postgres_by_their_compose_names(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    environment = environment_of(services[name])
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "kafka:9092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_provisioning_verifies_sessions_against_the_identity_container(
    services: dict[str, dict[str, Any]],
) -> None:
    assert environment_of(services["provisioning"])["IDENTITY_BASE_URL"] == "http://identity:8000"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_services_listen_on_all_interfaces_on_the_port_compose_publishes(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    _, _, port = APP_SERVICES[name]
    service = services[name]
    environment = environment_of(service)
    assert environment["HOST"] == "0.0.0.0"
    assert int(environment.get("PORT", port)) == port
    assert any(str(mapping).endswith(f":{port}") for mapping in service["ports"]), service["ports"]
    assert str(port) in image_instructions(service, "EXPOSE")
    assert image_environment(service)["PORT"] == str(port)
    assert image_environment(service)["HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_services_start_only_after_healthy_infrastructure_and_created_topics(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["kafka"]["condition"] == "service_healthy"
    assert depends_on["kafka-init"]["condition"] == "service_completed_successfully"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for dependency in ("postgres", "kafka"):
        assert "healthcheck" in services[dependency], f"{dependency} needs a healthcheck to be waited for"


def test_postgres_health_is_checked_with_pg_isready(services: dict[str, dict[str, Any]]) -> None:
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_kafka_is_a_single_kraft_node_that_never_auto_creates_topics(
    services: dict[str, dict[str, Any]],
) -> None:
    environment = {key: str(value) for key, value in services["kafka"]["environment"].items()}
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for factor in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert environment[factor] == "1", factor


def test_kafka_init_creates_every_contract_topic_with_its_partition_count(
    services: dict[str, dict[str, Any]],
) -> None:
    created = topics_created_by_kafka_init(services["kafka-init"])
    assert created == {topic.name: topic.partitions for topic in ALL_TOPICS}


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_dockerfile_cmd_runs_the_service_module(services: dict[str, dict[str, Any]], name: str) -> None:
    _, module, _ = APP_SERVICES[name]
    assert command_of(services[name]) == ["python", "-m", module]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_dockerfile_runs_as_non_root_with_a_liveness_healthcheck(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    users = image_instructions(service, "USER")
    assert users, f"{name}'s image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = image_instructions(service, "HEALTHCHECK")
    assert len(healthchecks) == 1
    assert "urllib" in healthchecks[0]
    assert "/health/live" in healthchecks[0]
    assert "os.environ['PORT']" in healthchecks[0], "the healthcheck must ask the port the service listens on"
    assert image_instructions(service, "FROM")[0].startswith("python:3.11-slim")


def test_dockerfiles_install_the_runtime_lock_hash_checked_then_the_packages_without_resolving_again(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in [*APP_SERVICES, "emulator"]:
        copied = " ".join(image_instructions(services[name], "COPY"))
        runs = image_instructions(services[name], "RUN")
        assert "requirements/runtime.lock" in copied, f"{name}'s image must install the runtime lock"
        assert "dev.lock" not in copied, f"{name}'s image must not install the development lock"
        lock_installs = [run for run in runs if "runtime.lock" in run and "pip install" in run]
        assert lock_installs, f"{name}'s Dockerfile never installs the runtime lock"
        assert all("--require-hashes" in run for run in lock_installs), f"{name} installs the lock unchecked"
        assert not any(run.lstrip().startswith("grep") for run in runs), f"{name} filters a lock by hand"
        assert any("--no-deps" in run for run in runs)


def test_microsoft_is_the_default_and_the_emulator_only_runs_in_the_demo_profile(
    services: dict[str, dict[str, Any]],
) -> None:
    assert (
        environment_of(services["identity"])["AZURE_LOGIN_BASE_URL"]
        == "${AZURE_LOGIN_BASE_URL:-https://login.microsoftonline.com}"
    )
    assert (
        environment_of(services["provisioning"])["GRAPH_BASE_URL"] == "${GRAPH_BASE_URL:-https://graph.microsoft.com}"
    )
    emulator = services["emulator"]
    assert emulator.get("profiles") == ["demo"]
    assert command_of(emulator) == ["python", "-m", "kutamo_dev.emulator", "--host", "0.0.0.0", "--port", "8010"]
    assert "services/" not in " ".join(image_instructions(emulator, "COPY")), "the emulator image carries no service"
    assert not any("services/" in line for line in image_instructions(emulator, "RUN"))
    for name, service in services.items():
        if "demo" not in service.get("profiles", []):
            assert "emulator" not in (service.get("depends_on") or {}), f"{name} needs the demo profile"
