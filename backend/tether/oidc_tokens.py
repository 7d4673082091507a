"""An OpenID provider's ID token: checking it, and who it says the person is. No I/O.

:func:`verify_id_token` takes the token, the provider's published keys (JWKS) and what
this login expects; it returns the claims only when all of these hold (OpenID Connect
Core §3.1.3.7):

- the signature verifies with one of the provider's keys, under an asymmetric algorithm
  the provider announces (``none`` and the HMAC algorithms are never accepted: an HMAC
  "signature" would be keyed with the client secret, which is not the provider's proof);
- ``iss`` is exactly the configured issuer; ``aud`` names this client (and, if it names
  others too, ``azp`` is this client); ``exp`` is in the future, ``iat`` present;
- ``nonce`` is the one this login sent (so a token from another login cannot be
  replayed into this one); ``at_hash``, when present, matches the access token.

The checks are joserfc's (signature, ``iss``/``aud``/``exp``/``nbf``) and Authlib's
``CodeIDToken`` (``nonce``, ``azp``, ``at_hash``); this module only says what to expect.

:func:`identity_from_claims` turns verified claims into an :class:`OidcIdentity`: the user
name (``preferred_username``, else ``sub``, lowercased; it must be a valid Tether name,
see ``users.py``), the groups from the configured claim and whether the person is an admin.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from tether.errors import OidcLoginFailed
from tether.users import MAX_GROUPS, valid_plain_name

log = logging.getLogger(__name__)

# Asymmetric JWS algorithms only (RFC 7518 §3, RFC 8037): see the module docstring.
SIGNING_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
})
DEFAULT_ALGORITHMS = ("RS256",)  # what OpenID Connect Core §15.1 makes every provider offer
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and this hub


class InvalidKeyId(Exception):
    """The token names a key the JWKS does not hold: the provider may have rotated keys."""


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    """Who a verified ID token says the person is, in Tether's terms."""

    subject: str  # "ISSUER SUB": the provider's stable, unique name of the person
    name: str  # a valid Tether user name
    groups: frozenset[str]
    admin: bool


def accepted_algorithms(announced: object) -> tuple[str, ...]:
    """The algorithms to accept: those the provider announces that are asymmetric."""
    if not isinstance(announced, list) or not announced:
        return DEFAULT_ALGORITHMS
    return tuple(a for a in announced if isinstance(a, str) and a in SIGNING_ALGORITHMS)


def verify_id_token(
    id_token: str,
    *,
    jwks: Mapping[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    now: int | None = None,
) -> dict[str, Any]:
    """The token's claims, once every check of the module docstring has passed.

    Raises:
        InvalidKeyId: the token is signed with a key ``jwks`` does not hold.
        OidcLoginFailed: ``token`` — anything else is wrong with the token.
    """
    # Never "none" nor an HMAC, whatever the caller passed (joserfc would accept "none").
    algorithms = [a for a in algorithms if a in SIGNING_ALGORITHMS]
    if not algorithms:
        raise OidcLoginFailed("token", "The provider announces no usable signing algorithm.")
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcLoginFailed("token", f"The provider's JWKS is not usable: {exc}") from exc
    try:
        token = jwt.decode(id_token, keys, algorithms=algorithms)
    except InvalidKeyIdError as exc:
        raise InvalidKeyId(str(exc)) from exc
    except JoseError as exc:
        raise OidcLoginFailed("token", f"The ID token does not verify: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise OidcLoginFailed("token", f"The ID token is malformed: {exc}") from exc
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=now, leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        raise OidcLoginFailed("token", f"The ID token is not for this login: {exc}") from exc
    return dict(claims)


def _group_list(value: object) -> list[str]:
    """A groups claim as a list of strings: a list, or one string (some providers)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def identity_from_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    groups_claim: str = "groups",
    admin_group: str | None = None,
) -> OidcIdentity:
    """Tether's view of a person the provider vouched for.

    The name is ``preferred_username`` lowercased when that is a valid user name, else
    ``sub`` lowercased; groups are the claim's entries lowercased, keeping the valid names
    (at most ``MAX_GROUPS``); ``admin_group`` is compared with the claim's entries exactly
    as the provider spells them.

    Raises:
        OidcLoginFailed: ``account`` — neither claim is a usable user name.
    """
    subject = str(claims["sub"])
    name = None
    for candidate in (claims.get("preferred_username"), subject):
        if isinstance(candidate, str) and valid_plain_name(candidate.strip().lower()):
            name = candidate.strip().lower()
            break
    if name is None:
        raise OidcLoginFailed(
            "account",
            f"Neither preferred_username {claims.get('preferred_username')!r} nor sub "
            f"{subject!r} is a usable user name.",
        )
    raw = _group_list(claims.get(groups_claim))
    groups = sorted({g.strip().lower() for g in raw if valid_plain_name(g.strip().lower())})
    if len(groups) < len(set(raw)) or len(groups) > MAX_GROUPS:
        log.info("OpenID user %s: kept %d of the groups %r", name, min(len(groups),
                 MAX_GROUPS), raw)
    return OidcIdentity(
        subject=f"{issuer} {subject}",
        name=name,
        groups=frozenset(groups[:MAX_GROUPS]),
        admin=admin_group is not None and admin_group in raw,
    )
