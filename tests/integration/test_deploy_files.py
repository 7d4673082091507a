"""docker-compose.yml, the Dockerfile and deploy/Caddyfile name only what exists.

No container engine runs here, so nothing is built or started: the compose file is
validated against the Compose Specification's JSON Schema, and every command, port,
path and variable the files name is looked up in the project (settings, routes, the
console script, the CLI's parser, the files COPY takes). Caddy's own validator checks the
proxy config; tests/e2e/test_proxy.py runs that config in front of two hubs.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import os
import re
import subprocess
from typing import Any

import httpx
import jsonschema
import pytest
import uvicorn.config

from tests.support import deploy_files as files
from tests.support.server import run_hub
from tether.accounts import is_loopback
from tether.cli import parser
from tether.config import Settings
from tether.demos import hub as demo_hub

HUBS = ("hub-1", "hub-2")
# Variables of other programs than Tether, each with where the program reads it.
FOREIGN_ENV = {"FORWARDED_ALLOW_IPS": inspect.getsource(uvicorn.config)}
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[a-z]+)")


def test_the_compose_file_is_valid_by_the_compose_specification_schema() -> None:
    validator = jsonschema.Draft202012Validator(files.compose_schema())
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(files.compose())
    ]
    assert errors == []


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    """The schema is strict enough to matter: a misspelt key and a wrong type fail."""
    validator = jsonschema.Draft202012Validator(files.compose_schema())
    broken = copy.deepcopy(files.compose())
    broken["services"]["hub-1"]["healthcheck"]["retires"] = 3
    assert not validator.is_valid(broken)
    broken = copy.deepcopy(files.compose())
    broken["services"]["redis"]["volumes"] = "redis-data:/data"
    assert not validator.is_valid(broken)


def hub_env(name: str) -> dict[str, str]:
    env: dict[str, Any] = files.compose()["services"][name]["environment"]
    return {key: str(value) for key, value in env.items()}


def test_every_variable_the_hubs_get_is_one_the_hub_reads() -> None:
    known = files.setting_names()
    assert "TETHER_REDIS_URL" in known  # the table was found at all
    for hub in HUBS:
        for name in hub_env(hub):
            if name.startswith("TETHER_"):
                assert name in known, f"{hub}: {name} is no setting in config.py"
            else:
                assert name in FOREIGN_ENV[name], f"{hub}: nothing reads {name}"


def test_the_hubs_share_redis_and_the_secret_and_each_has_its_own_id() -> None:
    services = files.compose()["services"]
    envs = [hub_env(hub) for hub in HUBS]
    assert [env["TETHER_HUB_ID"] for env in envs] == list(HUBS)
    for key in ("TETHER_SECRET", "TETHER_REDIS_URL"):
        assert envs[0][key] == envs[1][key]
    # Required from .env or the shell: compose refuses to start without it.
    assert re.fullmatch(r"\$\{TETHER_SECRET:\?.+\}", envs[0]["TETHER_SECRET"])
    redis_url = httpx.URL(envs[0]["TETHER_REDIS_URL"])
    assert redis_url.host in services and redis_url.port == 6379
    for hub in HUBS:
        assert services[hub]["build"] == "."
        assert services[hub]["depends_on"]["redis"]["condition"] == "service_healthy"
    # A network interface: accounts, never anonymous (the one-time admin link).
    with pytest.raises(KeyError, match="TETHER_SECRET"):
        files.interpolate(envs[0]["TETHER_SECRET"], {})
    given = {"TETHER_SECRET": "s" * 64}
    settings = Settings.from_env({k: files.interpolate(v, given) for k, v in envs[0].items()})
    assert not is_loopback(settings.host) and not settings.no_auth
    # The printed login link and mailed links name the proxy, where people come in.
    proxy_port = services["proxy"]["ports"][0].rpartition(":")[0]
    assert settings.base_url == f"http://localhost:{files.interpolate(proxy_port, {})}"


def test_redis_keeps_an_append_only_file_on_a_named_volume() -> None:
    compose = files.compose()
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]  # redis:N's working dir
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_service_has_a_health_check_and_the_hubs_check_a_real_route() -> None:
    services = files.compose()["services"]
    assert set(services) == {"redis", *HUBS, "proxy"}
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    for hub in HUBS:
        port, path = HEALTH_URL.findall(" ".join(services[hub]["healthcheck"]["test"]))[0]
        assert (port, path) == (hub_env(hub)["TETHER_PORT"], "/readyz")
    assert HEALTH_URL.findall(" ".join(services["proxy"]["healthcheck"]["test"]))[0] == (
        services["proxy"]["environment"]["TETHER_PROXY_PORT"], "/readyz"
    )


async def test_the_health_paths_named_are_routes_that_answer() -> None:
    """Every path a health check names, asked of a real hub."""
    named = {
        HEALTH_URL.findall(i.args)[0][1] for i in files.dockerfile() if i.keyword == "HEALTHCHECK"
    }
    for service in files.compose()["services"].values():
        named |= {m[1] for m in HEALTH_URL.findall(" ".join(service["healthcheck"]["test"]))}
    assert named == {"/readyz"}
    async with run_hub(Settings(static_dir=None), demo_hub) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as http:
            for path in named:
                assert (await http.get(path)).status_code == 200, path


def test_the_proxy_mounts_the_caddyfile_and_sets_every_variable_it_reads() -> None:
    services = files.compose()["services"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    source, _, target = proxy["volumes"][0].partition(":")
    assert (files.REPO / source).resolve() == files.CADDYFILE
    assert target.removesuffix(":ro") == "/etc/caddy/Caddyfile"  # the image's default
    env = {k: str(v) for k, v in proxy["environment"].items()}
    assert set(env) == files.caddy_placeholders()
    # Each upstream is a hub service on the port that hub listens on.
    for number, hub in enumerate(HUBS, start=1):
        assert env[f"HUB_{number}"] == f"{hub}:{hub_env(hub)['TETHER_PORT']}"
        assert proxy["depends_on"][hub]["condition"] == "service_healthy"
    container_port = proxy["ports"][0].rpartition(":")[2]
    assert container_port == env["TETHER_PROXY_PORT"]
    # The only published port: the hubs are reached through the proxy alone.
    assert [name for name, s in services.items() if "ports" in s] == ["proxy"]


def test_the_dockerfile_builds_the_app_then_a_slim_image_that_runs_tether_serve() -> None:
    instructions = files.dockerfile()
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert bases == ["node:20-slim", "python:3.11-slim", "python:3.11-slim"]
    final = [i for i in instructions if i.stage == ""]
    # The final stage installs nothing: no RUN but the user's creation, no compilers.
    assert [i.args.split()[0] for i in final if i.keyword == "RUN"] == ["useradd"]
    user = [i.args for i in final if i.keyword == "USER"]
    assert user and user[-1] not in ("root", "0")
    entrypoint = next(i for i in final if i.keyword == "ENTRYPOINT").exec_form()
    command = next(i for i in final if i.keyword == "CMD").exec_form()
    assert entrypoint == ["tether"] and "tether" in files.console_scripts()
    assert parser().parse_args(command).command == "serve"
    env: dict[str, str] = {}
    for i in final:
        if i.keyword == "ENV":
            env |= files.env_pairs(i)
    tether_env = {k for k in env if k.startswith("TETHER_")}
    assert tether_env and tether_env <= files.setting_names()
    # The static dir is where the app's build was copied to.
    copied = {dest for i in final if i.keyword == "COPY" for _, _, dest in [files.copy_parts(i)]}
    assert env["TETHER_STATIC_DIR"] in copied
    assert "/opt/tether/bin" in env["PATH"].split(":")
    health = next(i for i in final if i.keyword == "HEALTHCHECK")
    assert HEALTH_URL.findall(health.args)[0] == (env["TETHER_PORT"], "/readyz")
    assert "curl" not in health.args and "wget" not in health.args  # neither is in slim


def test_every_copy_source_exists_and_is_sent_to_the_build() -> None:
    stages = {i.stage for i in files.dockerfile() if i.keyword == "FROM"}
    ignored = files.dockerignored()
    for instruction in files.dockerfile():
        if instruction.keyword != "COPY":
            continue
        stage, sources, _ = files.copy_parts(instruction)
        if stage is not None:
            assert stage in stages, instruction
            continue
        for source in sources:
            path = files.REPO / source
            assert path.exists(), f"COPY {source}: no such file in the repository"
            hidden = [p for p in ignored if fnmatch.fnmatch(source.rstrip("/"), p)]
            assert not hidden, f"COPY {source} is excluded by .dockerignore {hidden}"
    # The build writes where the app stage copies from (vite's outDir).
    assert "outDir: 'dist'" in (files.REPO / "frontend" / "vite.config.ts").read_text()


def test_the_caddyfile_passes_caddys_own_validation(tmp_path: Any) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run(
        ["caddy", "validate", "--config", str(files.CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Valid configuration" in done.stdout + done.stderr


@pytest.mark.parametrize("broken", ["lb_policy stickiest", "health_uri"])
def test_caddys_validation_catches_a_broken_caddyfile(tmp_path: Any, broken: str) -> None:
    config = tmp_path / "Caddyfile"
    config.write_text(files.CADDYFILE.read_text().replace("lb_policy round_robin", broken))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run(
        ["caddy", "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )
    assert done.returncode != 0
