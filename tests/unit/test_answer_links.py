"""Answer link tokens without a hub: what a token says, that only this secret's tokens
and unexpired ones pass, and that a link is spent once (the memory store; the Redis one
is used by the integration tests)."""

from __future__ import annotations

import time

import pytest

from tether.answer_links import AnswerLinks, MemorySpentLinks
from tether.errors import AnswerLinkExpired, AnswerLinkUsed, UnknownLink


def links(secret: str = "s3cret") -> AnswerLinks:
    return AnswerLinks(secret, MemorySpentLinks())


async def test_a_token_names_its_request_person_and_expiry() -> None:
    made = links()
    token = made.issue("sess1", "req1", "user:bob", time.time() + 60, serial="abc")
    grant = made.read(token)
    assert (grant.session_id, grant.request_id, grant.principal_id, grant.serial) == (
        "sess1", "req1", "user:bob", "abc")
    assert grant.user_name == "bob" and 50 < grant.seconds_left() <= 60
    await made.check(grant)  # open, unused
    other = made.read(made.issue("sess1", "req1", "user:bob", time.time() + 60))
    assert other.link_id != grant.link_id  # every mail's link is its own


@pytest.mark.parametrize("principal", ["u_0123456789abcdef", "link:abc", "user:", "bob"])
def test_only_accounts_have_a_user_name(principal: str) -> None:
    made = links()
    assert made.read(made.issue("s", "r", principal, time.time() + 60)).user_name is None


def test_a_token_of_another_secret_or_altered_is_unknown() -> None:
    token = links("one").issue("s", "r", "user:bob", time.time() + 60)
    with pytest.raises(UnknownLink):
        links("two").read(token)
    payload, _, signature = token.rpartition(".")
    with pytest.raises(UnknownLink):
        links("one").read(f"{payload}x.{signature}")
    for junk in ("", ".", "a.b", "x" * 500):
        with pytest.raises(UnknownLink):
            links("one").read(junk)


async def test_an_expired_token_is_refused_as_expired() -> None:
    made = links()
    grant = made.read(made.issue("s", "r", "user:bob", time.time() - 1))
    with pytest.raises(AnswerLinkExpired) as caught:
        await made.check(grant)
    assert caught.value.status == 410 and caught.value.code == "link_expired"


async def test_a_link_is_spent_once_and_a_released_claim_can_be_made_again() -> None:
    made = links()
    grant = made.read(made.issue("s", "r", "user:bob", time.time() + 60))
    await made.claim(grant)
    with pytest.raises(AnswerLinkUsed):
        await made.check(grant)
    with pytest.raises(AnswerLinkUsed):
        await made.claim(grant)
    await made.release(grant)  # its answer was refused: the person may try again
    await made.check(grant)
    await made.claim(grant)
