"""TETHER_REDIS_URL: the Sentinel and Cluster forms parsed part by part, malformed URLs
refused with a message that names the wrong part and never the password, and the Redis
defaults that follow from the URL (WAIT behind Sentinel and on a cluster)."""

from __future__ import annotations

import re

import pytest

from tether.config import Settings, redacted
from tether.redis_url import (
    ClusterURL,
    SentinelURL,
    check_redis_url,
    is_cluster_url,
    is_sentinel_url,
    parse_cluster_url,
    parse_sentinel_url,
)


def test_sentinels_service_and_db() -> None:
    parsed = parse_sentinel_url("redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/tether/2")
    assert parsed == SentinelURL(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380)), service="tether", db=2
    )


def test_defaults_port_26379_and_db_0() -> None:
    parsed = parse_sentinel_url("redis+sentinel://s1,s2:5000,s3/mymaster")
    assert parsed.sentinels == (("s1", 26379), ("s2", 5000), ("s3", 26379))
    assert parsed.db == 0 and parsed.service == "mymaster" and not parsed.tls
    assert parse_sentinel_url("redis+sentinel://s1/mymaster/").db == 0


def test_password_user_and_percent_encoding() -> None:
    parsed = parse_sentinel_url("redis+sentinel://:p%40ss%3Aw@h:1,h:2/svc/0")
    assert parsed.password == "p@ss:w" and parsed.username is None
    acl = parse_sentinel_url("redis+sentinel://app:s3cret@h:1/svc")
    assert (acl.username, acl.password) == ("app", "s3cret")
    # An unencoded "@" in the password: the last one ends the userinfo.
    assert parse_sentinel_url("redis+sentinel://:a@b@h:1/svc").password == "a@b"


def test_tls_ipv6_and_options() -> None:
    parsed = parse_sentinel_url(
        "rediss+sentinel://[::1]:26379,[fe80::2]/svc/1?ssl_ca_certs=/ca.pem"
        "&sentinel_password=s%26p&socket_timeout=5"
    )
    assert parsed.tls
    assert parsed.sentinels == (("::1", 26379), ("fe80::2", 26379))
    assert parsed.options == (("ssl_ca_certs", "/ca.pem"), ("socket_timeout", "5"))
    assert parsed.sentinel_password == "s&p" and parsed.sentinel_username is None


def test_scheme_is_case_insensitive() -> None:
    assert is_sentinel_url("Redis+Sentinel://h/svc")
    assert not is_sentinel_url("redis://h:6379/0")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://h:1,h:2", "names the service"),
        ("redis+sentinel://h:1/", "names the service"),
        ("redis+sentinel://h:1/svc/x", "database 'x' is not a number"),
        ("redis+sentinel://h:1/svc/0/more", "is not a number"),
        ("redis+sentinel://h:1/svc/-1", "is not a number"),
        ("redis+sentinel://h:99999/svc", "port 99999"),
        ("redis+sentinel://h:port/svc", "where a sentinel host[:port] belongs"),
        ("redis+sentinel://h:1,,h:2/svc", "where a sentinel host[:port] belongs"),
        ("redis+sentinel://::1/svc", "IPv6 addresses go in [brackets]"),
        ("redis+sentinel:///svc", "where a sentinel host[:port] belongs"),
        ("redis+sentinel://h/sv c", "empty or has blanks"),
        ("redis+sentinel://h/svc#frag", "no #fragment"),
        ("redis+sentinel://h/svc?a=1&&b", "not name=value pairs"),
        ("redis+sentinel://h/svc?9x=1", "not a name"),
        ("redis://h", "starts with redis+sentinel://"),
    ],
)
def test_malformed_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_sentinel_url(url)


def test_a_bad_url_stops_the_settings_and_keeps_the_password_out() -> None:
    with pytest.raises(ValueError) as info:
        Settings(redis_url="redis+sentinel://:hunter2@h:1,h:2")
    assert "TETHER_REDIS_URL" in str(info.value) and "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match="starts with redis://"):
        Settings(redis_url="http://h:6379")
    # Plain URLs: the scheme is checked here, redis-py reads the rest.
    check_redis_url("rediss://h:6380/0")
    check_redis_url("unix:///run/redis.sock")


def test_redacted_hides_both_passwords() -> None:
    url = "redis+sentinel://:hunter2@h:1,h:2/svc/0?sentinel_password=topsecret&socket_timeout=1"
    shown = redacted(url)
    assert "hunter2" not in shown and "topsecret" not in shown
    assert shown == "redis+sentinel://:***@h:1,h:2/svc/0?sentinel_password=***&socket_timeout=1"
    assert redacted("redis://h:6379/0") == "redis://h:6379/0"


def test_wait_replicas_default_follows_the_url() -> None:
    assert Settings(redis_url="redis+sentinel://h/svc").wait_replicas == 1
    assert Settings(redis_url="redis+cluster://h1:7000,h2:7001/").wait_replicas == 1
    assert Settings(redis_url="redis://h:6379/0").wait_replicas == 0
    assert Settings().wait_replicas == 0
    assert Settings(redis_url="redis+sentinel://h/svc", redis_wait_replicas=0).wait_replicas == 0
    env = {"TETHER_REDIS_URL": "redis://h/0", "TETHER_REDIS_WAIT_REPLICAS": "2",
           "TETHER_REDIS_WAIT_TIMEOUT": "0.5"}
    settings = Settings.from_env(env)
    assert (settings.wait_replicas, settings.redis_wait_timeout) == (2, 0.5)
    with pytest.raises(ValueError, match="TETHER_REDIS_WAIT_REPLICAS"):
        Settings(redis_wait_replicas=-1)
    with pytest.raises(ValueError, match="TETHER_REDIS_WAIT_TIMEOUT"):
        Settings(redis_wait_timeout=0)


def test_cluster_nodes_credentials_tls_and_options() -> None:
    parsed = parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002/")
    assert parsed == ClusterURL(nodes=(("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)))
    tls = parse_cluster_url(
        "rediss+cluster://app:p%40ss@h:7000/0?ssl_ca_certs=/ca.pem&socket_timeout=5"
    )
    assert tls.tls and (tls.username, tls.password) == ("app", "p@ss")
    assert tls.options == (("ssl_ca_certs", "/ca.pem"), ("socket_timeout", "5"))
    assert parse_cluster_url("redis+cluster://:secret@h1,h2").password == "secret"
    assert is_cluster_url("Redis+Cluster://h:7000") and not is_cluster_url("redis://h:7000")
    check_redis_url("rediss+cluster://h:7000")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+cluster://h:7000/1", "has only database 0"),
        ("redis+cluster://h:7000,,h:7001", "where a node's host[:port] belongs"),
        ("redis+cluster://h:99999", "port 99999"),
        ("redis+cluster://h#frag", "no #fragment"),
        ("redis+cluster://h?9x=1", "not a name"),
        ("redis+cluster://h?a=1&&b", "not name=value pairs"),
    ],
)
def test_malformed_cluster_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_cluster_url(url)


def test_a_bad_cluster_url_stops_the_settings_and_keeps_the_password_out() -> None:
    with pytest.raises(ValueError) as info:
        Settings(redis_url="redis+cluster://:hunter2@h:7000/3")
    assert "TETHER_REDIS_URL" in str(info.value) and "hunter2" not in str(info.value)
    assert redacted("redis+cluster://:hunter2@h1:7000,h2:7001/") == (
        "redis+cluster://:***@h1:7000,h2:7001/"
    )
