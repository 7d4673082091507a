"""The Lua scripts spell no key or channel name; append_many.lua makes common.lua's list
of a session's keys from the base and names it is given: the order must be
Layout.script_keys'."""

from __future__ import annotations

import re
from importlib import resources

from tether.store.keys import BATCH_KEY_NAMES, Layout

LUA = resources.files("tether.store").joinpath("lua")


def test_no_script_spells_a_key_or_channel_name() -> None:
    for script in LUA.iterdir():
        if script.name.endswith(".lua"):
            text = script.read_text()
            assert "tether:" not in text, script.name
            assert "'PUBLISH'" not in text and "'SPUBLISH'" not in text, script.name


def test_append_many_orders_a_sessions_keys_as_common_lua_expects() -> None:
    """The script makes each session's keys from its base and BATCH_KEY_NAMES, then
    common.lua's list from those (``own[j]``) and the batch's shared keys."""
    script = LUA.joinpath("append_many.lua").read_text()
    table = re.search(r"K = \{(.*?)\}", script, re.S)
    assert table is not None
    layout = Layout.single()
    own = [layout.session_base("S") + name for name in BATCH_KEY_NAMES.split()]
    assert own == layout.session("S").for_batch()
    bucket = layout.bucket_of("S")
    named = {"active_key": layout.active(bucket), "due_key": layout.outbox_due(bucket),
             "claims_key": layout.outbox_claims(bucket)}
    spelled = [
        own[int(index) - 1] if index else named[name]
        for index, name in re.findall(r"own\[(\d+)\]|(\w+_key)", table.group(1))
    ]
    assert spelled == [*layout.script_keys("S"), *layout.outbox_keys("S")]
