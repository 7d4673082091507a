"""Layout.single(): every name is the one every release wrote, so existing data keeps
working (spelled out here literally, not derived from keys.py). Layout.cluster(): what
must share a slot does, and buckets map onto slot ranges."""

from __future__ import annotations

from redis.crc import key_slot

from tether.sessions import new_session_id
from tether.store.base import EVERYONE, OUTBOX, RELEASES, starts_key
from tether.store.keys import BUCKETS, TAGS, Layout, layout_for

S = "0190a1b2c3d4e5f60718293a4b5c6d7e"


def test_single_names_are_the_names_every_release_used() -> None:
    layout = Layout.single()
    k = layout.session(S)
    assert [k.rec, k.pending, k.events, k.answers, k.journal, k.emits, k.marks, k.progress,
            k.shares, k.links, k.assignees, k.listed, k.outbox, k.deliveries] == [
        f"tether:{{{S}}}:{name}" for name in (
            "rec", "pending", "events", "answers", "journal", "emits", "marks", "progress",
            "shares", "links", "assignees", "listed", "outbox", "deliveries",
        )
    ]
    assert layout.buckets == 1 and layout.bucket_of(S) == 0 and layout.guard(0) == []
    assert layout.channel(S) == f"tether:ch:{S}"
    assert layout.channel_prefix == "tether:ch:"
    assert layout.channel(OUTBOX) == layout.outbox_channel(0) == "tether:ch:__outbox__"
    assert layout.channel(RELEASES) == layout.released_channel(0) == "tether:ch:__released__"
    assert layout.publish == "PUBLISH"
    assert layout.active(0) == "tether:active"
    assert layout.outbox_due(0) == "tether:outbox"
    assert layout.outbox_claims(0) == "tether:outbox:claims"
    assert layout.audit(0) == "tether:audit"
    assert layout.owner_index(0, "alice") == "tether:owner:alice"
    assert layout.owner_index(0, EVERYONE) == "tether:owner:*"
    assert layout.inbox(0, "user:bob") == "tether:inbox:user:bob"
    assert layout.inbox_prefix(0) == "tether:inbox:"
    assert layout.shared_index(0, "group:ops") == "tether:shared:group:ops"
    assert layout.open_sessions("alice") == "tether:open:alice"
    assert layout.open_sessions_prefix(0) == "tether:open:"
    assert layout.quota("starts:alice") == "tether:quota:starts:alice"
    assert layout.idempotency("ab12") == "tether:idem:ab12"
    prefix, suffix = layout.record_affixes(0)
    assert prefix + S + suffix == k.rec
    assert layout.secret == "tether:secret"
    assert layout.users == "tether:users"
    assert layout.user_tokens == "tether:user-tokens"
    assert layout.login("d") == "tether:login:d"
    assert layout.logins_of("bob") == "tether:logins-of:bob"
    assert layout.login_failures("ip:1") == "tether:login-fail:ip:1"
    assert layout.login_link("d") == "tether:login-link:d"
    assert layout.oidc_flow("d") == "tether:oidc-flow:d"
    assert layout.answer_link_spent("l1") == "tether:answer-link:l1"
    assert layout.share_link("d") == "tether:share-link:d"
    assert layout.webhooks == "tether:webhooks"
    assert layout.delivery_log("webhook:w1") == "tether:delivery-log:webhook:w1"
    assert layout.script_args(0) == [
        "PUBLISH", "tether:inbox:", "tether:open:", "tether:ch:__outbox__",
    ]


# --- Layout.cluster() ------------------------------------------------------------------


def _slot(key: str) -> int:
    return key_slot(key.encode())


def test_bucket_tags_fall_in_their_slot_ranges() -> None:
    assert len(TAGS) == BUCKETS == 64 and len(set(TAGS)) == 64
    for bucket, tag in enumerate(TAGS):
        assert bucket * 256 <= _slot(tag) < (bucket + 1) * 256


def test_a_sessions_keys_channel_and_its_buckets_indexes_share_one_slot() -> None:
    layout = Layout.cluster()
    for session_id in (S, new_session_id(), "not-hex-made"):
        bucket = layout.bucket_of(session_id)
        k = layout.session(session_id)
        names = [
            *layout.script_keys(session_id), *layout.outbox_keys(session_id), k.deliveries,
            layout.channel(session_id), layout.audit(bucket), layout.inbox(bucket, "user:bob"),
            layout.owner_index(bucket, "alice"), layout.owner_index(bucket, EVERYONE),
            layout.shared_index(bucket, "group:ops"), layout.outbox_channel(bucket),
            layout.released_channel(bucket), *layout.guard(bucket),
        ]
        assert {_slot(name) for name in names} == {_slot(TAGS[bucket])}
        prefix, suffix = layout.record_affixes(bucket)
        assert prefix + session_id + suffix == k.rec
        assert layout.inbox_prefix(bucket) + "user:bob" == layout.inbox(bucket, "user:bob")
    assert layout.bucket_of(S) == int(S[-2:], 16) % 64
    assert 0 <= layout.bucket_of("not-hex-made") < 64
    assert layout.publish == "SPUBLISH" and layout.is_cluster


def test_an_id_can_be_moved_into_any_bucket() -> None:
    layout = Layout.cluster()
    session_id = new_session_id()
    for bucket in range(64):
        moved = layout.id_in_bucket(session_id, bucket)
        assert layout.bucket_of(moved) == bucket and moved[:-2] == session_id[:-2]
        assert int(moved[-2:], 16) >> 6 == int(session_id[-2:], 16) >> 6  # random bits kept


def test_per_user_keys_share_the_users_home_and_an_idempotency_key_its_digests_bucket() -> None:
    layout = Layout.cluster()
    home = layout.home_of("alice")
    assert _slot(layout.quota(starts_key("alice"))) == _slot(layout.open_sessions("alice"))
    assert _slot(layout.open_sessions("alice")) == _slot(TAGS[home])
    digest = "ab" * 31 + "7f"
    assert _slot(layout.idempotency(digest)) == _slot(TAGS[layout.bucket_of(digest)])
    # A finishing session cannot reach its owner's hash: common.lua is told so.
    assert layout.script_args(3)[2] == ""


def test_keys_one_transaction_changes_share_a_tag() -> None:
    layout = Layout.cluster()
    assert _slot(layout.users) == _slot(layout.user_tokens)
    assert _slot(layout.login("d")) == _slot(layout.logins_of("bob"))
    assert _slot(layout.webhooks) == _slot(layout.delivery_log("webhook:w1"))


def test_cluster_names_never_meet_single_names() -> None:
    single, cluster = Layout.single(), Layout.cluster()
    for method in ("active", "outbox_due", "outbox_claims", "audit"):
        assert getattr(single, method)(0) != getattr(cluster, method)(0)
    assert single.session(S).rec != cluster.session(S).rec
    assert layout_for("redis+cluster://h:7000").is_cluster
    assert not layout_for("redis://h:6379").is_cluster
    assert not layout_for("redis+sentinel://h/svc").is_cluster
