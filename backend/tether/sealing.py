"""``Sealer``: encrypts the secret parts of answers with the hub secret.

An answer with secret fields (``SecretStr``, ``password``) must reach the task in clear,
whichever hub received it and however often the session is resumed, yet never appear in
clear in an event, a log line, an HTTP answer or the store. So the full answer is sealed
with Fernet (AES-128-CBC with an HMAC-SHA256 tag, from the ``cryptography`` package:
authenticated, with a vetted construction, rather than anything hand-made here), under a
key derived with HKDF-SHA256 from the hub secret that every hub of a store shares
(``TETHER_SECRET``, or the one generated into the store). A hub with another secret
cannot open it: :class:`~tether.errors.SealBroken` says so instead of handing the task
garbage.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tether.errors import SealBroken

_INFO = b"tether answer sealing v1"


class Sealer:
    """Seals and opens text with a key derived from ``secret``."""

    __slots__ = ("_fernet",)

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, token: str) -> str:
        """Raises: SealBroken when ``token`` was not sealed with this secret, or altered."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SealBroken() from exc
