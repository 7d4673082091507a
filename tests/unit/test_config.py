"""Settings.from_env: the one place that reads TETHER_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.config import DEFAULT_TASKS, Settings


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.redis_url) == ("127.0.0.1", 8000, None)
    assert settings.task_specs == DEFAULT_TASKS
    assert (settings.trust_user_header, settings.allowed_origins, settings.secret) == (
        False, (), None
    )


def test_every_variable_is_parsed_to_its_type() -> None:
    settings = Settings.from_env({
        "TETHER_HOST": "0.0.0.0",
        "TETHER_PORT": "9001",
        "TETHER_REDIS_URL": "redis://r:6379/2",
        "TETHER_HISTORY_CAP": "50",
        "TETHER_FINISHED_TTL": "60",
        "TETHER_SEND_QUEUE": "16",
        "TETHER_MAX_FRAME_BYTES": "2048",
        "TETHER_RATE_PER_SECOND": "2.5",
        "TETHER_RATE_BURST": "7",
        "TETHER_PING_INTERVAL": "0.5",
        "TETHER_SECRET": "s3cret",
        "TETHER_SHUTDOWN_TIMEOUT": "1.5",
        "TETHER_ALLOWED_ORIGINS": " https://a.example , ,https://b.example,",
        "TETHER_TRUST_USER_HEADER": "1",
        "TETHER_ALLOWED_HOSTS": "hub.corp, *.apps.corp,",
        "TETHER_USERS_FILE": "/etc/tether/users.toml",
        "TETHER_SESSION_HOURS": "8",
        "TETHER_LOGIN_FAILURES_PER_IP": "30",
        "TETHER_LOGIN_FAILURES_PER_USER": "3",
        "TETHER_LOGIN_WINDOW": "60",
        "TETHER_STATIC_DIR": "/srv/app",
        "UNRELATED": "x",
    })
    assert settings == Settings(
        host="0.0.0.0", port=9001, redis_url="redis://r:6379/2", history_cap=50,
        finished_ttl=60, send_queue=16, max_frame_bytes=2048, rate_per_second=2.5,
        rate_burst=7, ping_interval=0.5, secret="s3cret", shutdown_timeout=1.5,
        allowed_origins=("https://a.example", "https://b.example"), trust_user_header=True,
        allowed_hosts=("hub.corp", "*.apps.corp"), users_file=Path("/etc/tether/users.toml"),
        session_hours=8.0, login_failures_per_ip=30, login_failures_per_user=3,
        login_window=60.0, static_dir=Path("/srv/app"),
    )


def test_trusting_the_user_header_needs_allowed_hosts() -> None:
    with pytest.raises(ValueError, match="TETHER_ALLOWED_HOSTS"):
        Settings.from_env({"TETHER_TRUST_USER_HEADER": "1"})


@pytest.mark.parametrize(("raw", "trusted"), [("1", True), ("true", True), ("yes", True),
                                              ("0", False), ("no", False)])
def test_trust_user_header_values(raw: str, trusted: bool) -> None:
    env = {"TETHER_TRUST_USER_HEADER": raw, "TETHER_ALLOWED_HOSTS": "hub.corp"}
    assert Settings.from_env(env).trust_user_header is trusted


@pytest.mark.parametrize(
    ("name", "raw"),
    [("TETHER_PORT", "http"), ("TETHER_PORT", "80.5"), ("TETHER_HISTORY_CAP", "lots"),
     ("TETHER_FINISHED_TTL", "1d"), ("TETHER_SEND_QUEUE", "-x"), ("TETHER_MAX_FRAME_BYTES", "64k"),
     ("TETHER_RATE_PER_SECOND", "fast"), ("TETHER_RATE_BURST", "1.5"),
     ("TETHER_PING_INTERVAL", "20s"), ("TETHER_SHUTDOWN_TIMEOUT", "soon")],
)
def test_a_bad_value_raises_value_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings.from_env({name: raw})
    assert name in str(info.value) and repr(raw) in str(info.value)


def test_empty_variables_are_ignored() -> None:
    assert Settings.from_env({"TETHER_PORT": "", "TETHER_REDIS_URL": ""}).port == 8000


def test_overrides_win_over_the_environment_unless_none() -> None:
    env = {"TETHER_PORT": "9001", "TETHER_REDIS_URL": "redis://env"}
    settings = Settings.from_env(env, port=0, redis_url=None, task_specs=("a:hub",))
    assert (settings.port, settings.redis_url, settings.task_specs) == (0, "redis://env",
                                                                        ("a:hub",))


def test_settings_are_frozen_and_with_makes_a_changed_copy() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
    changed = settings.with_(port=1)
    assert (changed.port, settings.port) == (1, 8000)
