"""Reading and writing Tether's cookies, leniently on the way in.

``http.cookies.SimpleCookie`` gives up on a whole ``Cookie`` header at the first pair it
does not like (``foo``, ``a=b c``, ``prefs={"x":1}``), so a browser that also carries
another site component's cookie would look like a newcomer and lose its identity. Browsers
send ``name=value`` pairs separated by ``;`` (RFC 6265 §5.4) and put in them whatever a
server set, so this reads them the way browsers write them: split on ``;``, then on the
first ``=``, and never fail. A name may appear more than once (cookies set for different
paths, or one planted by a sibling subdomain): every value is kept, and the caller takes
the first one that verifies.
"""

from __future__ import annotations

from dataclasses import dataclass


def cookie_values(header: str, name: str) -> list[str]:
    """Every value the ``Cookie`` header carries for ``name``, in order; never raises."""
    values: list[str] = []
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values.append(value)
    return values


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """How one of our cookies is set: its name and attributes."""

    name: str
    max_age: int
    same_site: str = "Strict"
    secure: bool = False

    def set_header(self, value: str) -> tuple[bytes, bytes]:
        """A ``Set-Cookie`` header that stores ``value``: HttpOnly, Path=/, no Domain."""
        text = (
            f"{self.name}={value}; Path=/; Max-Age={self.max_age}; HttpOnly; "
            f"SameSite={self.same_site}"
        )
        if self.secure:
            text += "; Secure"
        return b"set-cookie", text.encode("latin-1")

    def clear_header(self) -> tuple[bytes, bytes]:
        """A ``Set-Cookie`` header that deletes the cookie."""
        text = f"{self.name}=; Path=/; Max-Age=0; HttpOnly; SameSite={self.same_site}"
        if self.secure:
            text += "; Secure"
        return b"set-cookie", text.encode("latin-1")
