"""The ID-token checks and the claims-to-identity rules of OpenID login (no I/O), the
``next`` path rule, and the OpenID settings."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from tether.config import Settings
from tether.errors import InvalidQuery, OidcLoginFailed
from tether.oidc import same_origin_path
from tether.oidc_tokens import (
    InvalidKeyId,
    accepted_algorithms,
    identity_from_claims,
    verify_id_token,
)

ISSUER = "https://id.example"
CLIENT = "tether"
NONCE = "n-0S6_WzA2Mj"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, auto_kid=False)
JWKS = {"keys": [KEY.as_dict(private=False)]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT,
                            "exp": now + 300, "iat": now, "nonce": NONCE}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256",
           kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, payload, key)


def verify(token: str, **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"jwks": JWKS, "issuer": ISSUER, "client_id": CLIENT,
                            "nonce": NONCE, **changes}
    return verify_id_token(token, **args)


def test_a_token_for_this_login_verifies() -> None:
    assert verify(signed(claims()))["sub"] == "248289761001"
    assert verify(signed(claims(aud=[CLIENT, "api"], azp=CLIENT)))["azp"] == CLIENT


@pytest.mark.parametrize("changes", [
    {"aud": "another-app"},
    {"aud": [CLIENT, "api"]},  # several audiences and no azp naming this client
    {"aud": [CLIENT, "api"], "azp": "api"},
    {"iss": "https://evil.example"},
    {"iss": None},
    {"nonce": "replayed-from-another-login"},
    {"nonce": None},
    {"exp": int(time.time()) - 3600},
    {"exp": None},
    {"sub": None},
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_a_token_not_for_this_login_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(OidcLoginFailed) as refused:
        verify(signed(claims(**changes)))
    assert refused.value.reason == "token"


def test_a_foreign_signature_an_hmac_and_no_signature_are_refused() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"}, auto_kid=False)
    for token in (
        signed(claims(), key=stranger),
        # HS256 keyed with something the attacker knows (the client secret, the JWKS).
        signed(claims(), key=OctKey.import_key("client-secret-client-secret-32b!"),
               alg="HS256"),
    ):
        with pytest.raises(OidcLoginFailed):
            verify(token, algorithms=("RS256", "HS256"))
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    _, payload, _ = signed(claims()).split(".")
    for unsigned in (f"{none}.{payload}.", f"{none}.{payload}"):
        with pytest.raises(OidcLoginFailed):
            verify(unsigned, algorithms=("RS256", "none"))


def test_an_unknown_key_id_asks_for_fresh_keys() -> None:
    with pytest.raises(InvalidKeyId):
        verify(signed(claims(), kid="rotated"))


def test_only_asymmetric_algorithms_the_provider_announces_are_accepted() -> None:
    assert accepted_algorithms(["HS256", "none", "RS256", "ES256"]) == ("RS256", "ES256")
    assert accepted_algorithms(None) == ("RS256",)
    with pytest.raises(OidcLoginFailed):
        verify(signed(claims()), algorithms=accepted_algorithms(["HS256"]))


def test_the_name_is_preferred_username_lowercased_else_sub() -> None:
    who = identity_from_claims(claims(preferred_username=" Alice "), issuer=ISSUER)
    assert (who.name, who.subject) == ("alice", f"{ISSUER} 248289761001")
    # OpenID logins keep plain names (no "@" or "+"): an e-mail address gives the subject.
    assert identity_from_claims(claims(preferred_username="a@b.example"),
                                issuer=ISSUER).name == "248289761001"
    with pytest.raises(OidcLoginFailed) as refused:
        identity_from_claims(claims(sub="auth0|123"), issuer=ISSUER)
    assert refused.value.reason == "account"


def test_groups_come_from_the_configured_claim_and_admin_from_its_exact_group() -> None:
    token = claims(roles=["Ops", "tether-admins", "/has/slashes", 7], groups=["x"])
    who = identity_from_claims(token, issuer=ISSUER, groups_claim="roles",
                               admin_group="tether-admins")
    assert who.groups == frozenset({"ops", "tether-admins"}) and who.admin
    assert not identity_from_claims(token, issuer=ISSUER, groups_claim="roles",
                                    admin_group="Tether-Admins").admin
    single = identity_from_claims(claims(groups="finance"), issuer=ISSUER)
    assert single.groups == frozenset({"finance"}) and not single.admin
    assert identity_from_claims(claims(), issuer=ISSUER).groups == frozenset()


@pytest.mark.parametrize("value", ["//evil.example/", "https://evil.example/x",
                                   "/\\evil.example", "sessions", "/a\nb"])
def test_next_must_be_a_path_of_this_hub(value: str) -> None:
    with pytest.raises(InvalidQuery):
        same_origin_path(value)


def test_next_keeps_a_path_and_its_query() -> None:
    assert same_origin_path("/sessions?status=waiting") == "/sessions?status=waiting"
    assert same_origin_path(None) == "/"


def test_oidc_settings_are_read_and_checked() -> None:
    settings = Settings.from_env({
        "TETHER_OIDC_ISSUER": "https://id.example/realms/x",
        "TETHER_OIDC_CLIENT_ID": "tether", "TETHER_OIDC_CLIENT_SECRET": "s",
        "TETHER_OIDC_GROUPS_CLAIM": "roles", "TETHER_OIDC_ADMIN_GROUP": "admins",
    })
    assert settings.oidc_enabled and settings.oidc_groups_claim == "roles"
    assert settings.oidc_admin_group == "admins"
    assert Settings.from_env({}).oidc_groups_claim == "groups"
    with pytest.raises(ValueError, match="needs all of"):
        Settings(oidc_issuer="https://id.example")
    with pytest.raises(ValueError, match="https"):
        Settings(oidc_issuer="http://id.example", oidc_client_id="c", oidc_client_secret="s")
    with pytest.raises(ValueError, match="exclude"):
        Settings(oidc_issuer="https://id.example", oidc_client_id="c", oidc_client_secret="s",
                 trust_user_header=True, allowed_hosts=("hub",))
