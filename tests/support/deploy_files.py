"""The deployment files read as data: docker-compose.yml (YAML), the Dockerfile's
instructions, and the names the project itself defines (settings, routes, scripts).

There is no container engine on the machines that test Tether, so what would go wrong
at ``docker compose up`` is checked here against the project's own sources instead.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
CADDYFILE = REPO / "deploy" / "Caddyfile"
# The Compose Specification's schema as check-jsonschema 0.39.0 (PyPI) vendors it
# (compose-spec/compose-spec, Apache-2.0: LICENSE beside it); its sha256 is d549057e...
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "compose_spec" / "compose-spec.json"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves the << merges
    return data


def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(COMPOSE_SCHEMA.read_text())
    return schema


def setting_names() -> set[str]:
    """Every ``TETHER_*`` variable :meth:`Settings.from_env` reads (named in config.py)."""
    source = (REPO / "backend" / "tether" / "config.py").read_text()
    return set(re.findall(r'"(TETHER_[A-Z0-9_]+)"', source))


def console_scripts() -> dict[str, str]:
    project = tomllib.loads((REPO / "backend" / "pyproject.toml").read_text())["project"]
    scripts: dict[str, str] = project["scripts"]
    return scripts


@dataclass(frozen=True)
class Instruction:
    stage: str  # the FROM ... AS name of the stage it belongs to ("" for the last, unnamed)
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of ``CMD ["a", "b"]`` (after any ``--flag``s)."""
        text = self.args[self.args.index("["):]
        form: list[str] = json.loads(text)
        return form


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out: list[Instruction] = []
    stage = ""
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            stage = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
        out.append(Instruction(stage, keyword, args.strip()))
    return out


def copy_parts(instruction: Instruction) -> tuple[str | None, list[str], str]:
    """``COPY [--from=STAGE] SRC... DEST`` as (stage or None, sources, destination)."""
    words = shlex.split(instruction.args)
    source_stage = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.removeprefix("--from=")
    return source_stage, words[:-1], words[-1]


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """``ENV A=1 B=2`` (the key=value form the Dockerfile uses)."""
    pairs = {}
    for word in shlex.split(instruction.args):
        name, sep, value = word.partition("=")
        assert sep, f"ENV {instruction.args!r}: use NAME=value"
        pairs[name] = value
    return pairs


def dockerignored() -> list[str]:
    return [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def caddy_placeholders() -> set[str]:
    """The environment variables the Caddyfile reads (``{$NAME}`` / ``{$NAME:default}``)."""
    lines = (line.split("#", 1)[0] for line in CADDYFILE.read_text().splitlines())
    return set(re.findall(r"\{\$([A-Z0-9_]+)", "\n".join(lines)))


_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` over ``env``: the
    value a container gets. A required variable that is unset raises, as compose does."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return _VARIABLE.sub(one, value)
