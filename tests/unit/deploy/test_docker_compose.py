"""docker-compose.yml and the Dockerfile, checked by reading (Docker does not run here):
images, ports, healthchecks, start order, every environment variable a real setting,
and every `zava` command line accepted by the real CLI."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from zava.cli import main
from zava.config import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
WORKERS = ("zava1", "zava2")
HAPROXY_CFG = (ROOT / "docker" / "haproxy" / "haproxy.cfg").read_text()


def setting_names() -> set[str]:
    """Every environment variable Settings reads."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.update(choices if choices else [f"ZAVA_{name.upper()}"])
    return names


def parse_cli(args: list[str]) -> dict[str, Any]:
    """Parse ``zava <args>`` with the real CLI without running it: every option of every
    command level, merged. Raises click.UsageError for anything the CLI would refuse."""
    assert args[0] == "zava", args
    command: click.Command = main
    ctx = main.make_context("zava", args[1:])
    params = dict(ctx.params)
    while isinstance(command, click.Group) and [*ctx._protected_args, *ctx.args]:
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        params.update(ctx.params)
        command = sub
    return params


def commands(service: dict[str, Any]) -> list[list[str]]:
    """The `zava` command lines a service runs (a `sh -c` script split at `&&`)."""
    command = service["command"]
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [command]


def test_images_and_build() -> None:
    assert SERVICES["db"]["image"].startswith("pgvector/pgvector:pg1")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert all(SERVICES[name]["build"] == "." for name in (*WORKERS, "migrate"))
    assert SERVICES["lb"]["build"] == "docker/haproxy"
    haproxy_image = (ROOT / "docker" / "haproxy" / "Dockerfile").read_text()
    assert "FROM debian:" in haproxy_image and "apt-get install" in haproxy_image
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]
    assert "pgdata" in COMPOSE["volumes"]


def test_start_order_and_health() -> None:
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for worker in WORKERS:
        assert SERVICES[worker]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
        assert SERVICES[worker]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "/ready" in " ".join(SERVICES[worker]["healthcheck"]["test"])
    assert set(SERVICES["lb"]["depends_on"]) == set(WORKERS)
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert "ping" in " ".join(SERVICES["redis"]["healthcheck"]["test"])
    assert SERVICES["migrate"]["restart"] == "no"


@pytest.mark.parametrize("service", ["migrate", *WORKERS])
def test_environment_names_are_real_settings(service: str) -> None:
    unknown = set(SERVICES[service]["environment"]) - setting_names()
    assert not unknown, f"{service} sets variables Zava does not read: {unknown}"
    Settings.model_validate({})  # the settings themselves still load


@pytest.mark.parametrize("service", ["migrate", *WORKERS])
def test_commands_parse_with_the_cli(service: str) -> None:
    for line in commands(SERVICES[service]):
        parse_cli(line)


def test_the_migration_job_migrates_grants_and_seeds_once() -> None:
    lines = [" ".join(line) for line in commands(SERVICES["migrate"])]
    assert lines == ["zava db upgrade", "zava db grant-login zava_app",
                     "zava seed --size workshop --if-empty"]
    seed = parse_cli(commands(SERVICES["migrate"])[2])
    assert seed["if_empty"] is True and seed["size"] == "workshop"
    env = SERVICES["migrate"]["environment"]
    assert "zava_admin" in env["ZAVA_ADMIN_DATABASE_URL"]
    assert "zava_app" in env["DATABASE_URL"]


@pytest.mark.parametrize("worker", WORKERS)
def test_each_worker_is_stateless_and_shares_redis_with_a_mounted_token_file(
        worker: str) -> None:
    server = SERVICES[worker]
    (line,) = commands(server)
    params = parse_cli(line)
    assert params["transport"] == "http" and params["host"] == "0.0.0.0"
    assert not params["trust_identity_header"] and not params["stateful"]
    assert "ports" not in server and str(params["port"]) in server["expose"]
    environment = server["environment"]
    assert environment.get("ZAVA_HTTP_STATEFUL", "false") == "false"
    token_file = environment["ZAVA_TOKEN_FILE"]
    assert any(volume.split(":")[1] == token_file for volume in server["volumes"])
    assert environment["ZAVA_REDIS_URL"].startswith("redis://redis:6379")
    assert f":{params['port']}/ready" in " ".join(server["healthcheck"]["test"])
    assert server["restart"] == "unless-stopped"
    # the drain and the calls in flight fit in Docker's grace period before SIGKILL
    grace = int(server["stop_grace_period"].removesuffix("s"))
    assert float(environment["ZAVA_HTTP_DRAIN_S"]) + \
        float(environment["ZAVA_HTTP_SHUTDOWN_TIMEOUT_S"]) < grace


def test_the_load_balancer_sends_calls_to_every_worker_checked_on_ready() -> None:
    lb = SERVICES["lb"]
    assert "./docker/haproxy/haproxy.cfg:/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    published = int(lb["ports"][0].rsplit(":", 1)[1])
    assert f"bind :{published}" in HAPROXY_CFG
    servers = {}
    for line in HAPROXY_CFG.splitlines():
        words = line.split()
        if words[:1] == ["server"]:
            servers[words[1]] = words[2]
            assert "check" in words
    (port,) = {parse_cli(commands(SERVICES[w])[0])["port"] for w in WORKERS}
    assert servers == {w: f"{w}:{port}" for w in WORKERS}
    assert "option httpchk" in HAPROXY_CFG
    assert "http-check send meth GET uri /ready" in HAPROXY_CFG
    assert "http-check expect status 200" in HAPROXY_CFG
    # a call a worker received is never retried elsewhere; only failed connections are
    assert "retry-on conn-failure\n" in HAPROXY_CFG
    assert "option httpclose" in HAPROXY_CFG  # a worker lost mid-call gives a 502
    # the Host the health check sends is one the workers answer
    assert all("localhost" in commands(SERVICES[w])[0] for w in WORKERS)
    assert "hdr Host localhost" in HAPROXY_CFG
    assert "balance " in HAPROXY_CFG and "cookie" not in HAPROXY_CFG  # no affinity


def test_the_dockerfile_default_command_parses() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    params = parse_cli(json.loads(cmd.removeprefix("CMD ")))
    assert params["transport"] == "http"
    assert "torch==2.13.0" in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile


REALM: dict[str, Any] = json.loads(
    (ROOT / "docker" / "keycloak" / "zava-realm.json").read_text())
OIDC_SERVICES = ("keycloak", "identities", "server-oidc")


def test_the_identity_provider_is_an_opt_in_profile() -> None:
    assert all(SERVICES[name]["profiles"] == ["oidc"] for name in OIDC_SERVICES)
    assert not any("profiles" in SERVICES[name]
                   for name in ("db", "redis", "migrate", *WORKERS, "lb"))
    keycloak = SERVICES["keycloak"]
    assert keycloak["image"].startswith("quay.io/keycloak/keycloak:")
    assert "--import-realm" in keycloak["command"]
    assert any(volume.endswith("/opt/keycloak/data/import/zava-realm.json:ro")
               and volume.startswith("./docker/keycloak/zava-realm.json")
               for volume in keycloak["volumes"])
    assert "/health/ready" in " ".join(keycloak["healthcheck"]["test"])
    oidc = SERVICES["server-oidc"]["depends_on"]
    assert oidc["keycloak"]["condition"] == "service_healthy"
    assert oidc["identities"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", ["identities", "server-oidc"])
def test_the_oidc_services_use_real_settings_and_commands(service: str) -> None:
    unknown = set(SERVICES[service]["environment"]) - setting_names()
    assert not unknown, f"{service} sets variables Zava does not read: {unknown}"
    for line in commands(SERVICES[service]):
        parse_cli(line)


def test_the_server_trusts_the_realms_issuer_and_is_its_audience() -> None:
    server = SERVICES["server-oidc"]
    (line,) = commands(server)
    params = parse_cli(line)
    environment = server["environment"]
    issuer = f"{SERVICES['keycloak']['environment']['KC_HOSTNAME']}/realms/{REALM['realm']}"
    assert environment["ZAVA_OAUTH_ISSUER"] == issuer
    assert environment["ZAVA_OAUTH_AUDIENCE"] == params["public_url"]
    (scope,) = REALM["clientScopes"]
    (mapper,) = scope["protocolMappers"]
    assert mapper["protocolMapper"] == "oidc-audience-mapper"
    assert mapper["config"]["included.custom.audience"] == params["public_url"]
    assert scope["name"] in Settings().oauth_required_scopes
    assert int(server["ports"][0].rsplit(":", 1)[1]) == params["port"]
    assert f":{params['port']}/ready" in " ".join(server["healthcheck"]["test"])


def test_every_mapped_subject_is_a_person_of_the_realm() -> None:
    from zava.seeding import company

    users = {user["username"]: user["id"] for user in REALM["users"]}
    mapped = {}
    for line in commands(SERVICES["identities"]):
        params = parse_cli(line)
        assert params["issuer"] == SERVICES["server-oidc"]["environment"]["ZAVA_OAUTH_ISSUER"]
        mapped[params["subject"]] = params["manager"]
    assert mapped == {
        users["alice"]: company.SEATTLE_MANAGER_ID,
        users["erin"]: company.EASTSIDE_REGIONAL_ID,
        users["hq"]: company.HEAD_OFFICE_ID,
        users["service-account-zava-service"]: company.HEAD_OFFICE_ID,
    }
    assert users["mallory"] not in mapped  # refused with 403: the test of an unmapped person


def test_the_realms_clients_are_what_mcp_clients_need() -> None:
    clients = {client["clientId"]: client for client in REALM["clients"]}
    desktop, service = clients["mcp-client"], clients["zava-service"]
    assert desktop["publicClient"] and desktop["standardFlowEnabled"]
    assert desktop["attributes"]["pkce.code.challenge.method"] == "S256"
    assert not desktop["directAccessGrantsEnabled"]
    assert not service["publicClient"] and service["serviceAccountsEnabled"]
    assert all(client["defaultClientScopes"] == ["zava:read"] for client in clients.values())
