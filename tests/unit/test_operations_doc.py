"""docs/OPERATIONS.md stays true: every setting it names is one the hub reads, every
``tether`` command in its examples is one the command line accepts, and every file it
links to exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.support.deploy_files import setting_names
from tether.cli import parser

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "OPERATIONS.md"


def guide() -> str:
    return GUIDE.read_text()


def tether_commands() -> list[list[str]]:
    """The argument lists of every ``tether ...`` line in the guide's shell blocks
    (leading ``VAR=value`` words, ``# comments`` and pipes left out)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", guide(), re.S):
        for line in block.splitlines():
            words = shlex.split(line.split(" | ")[0], comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words[:1] == ["tether"]:
                commands.append(words[1:])
    return commands


def test_every_setting_the_guide_names_is_one_the_hub_reads() -> None:
    named = set(re.findall(r"TETHER_[A-Z0-9_]+", guide()))
    assert "TETHER_WORKERS" in named
    assert named <= setting_names(), named - setting_names()


def test_the_guide_has_tether_commands_to_check() -> None:
    assert {args[0] for args in tether_commands()} >= {"serve", "sessions", "hubs", "users"}


@pytest.mark.parametrize("args", tether_commands(), ids=" ".join)
def test_every_tether_command_in_the_guide_parses(args: list[str]) -> None:
    parser().parse_args(args)  # argparse exits (a failure here) on anything it rejects


def test_every_file_the_guide_links_to_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", guide())
    assert links
    for link in links:
        assert (GUIDE.parent / link).exists(), link
