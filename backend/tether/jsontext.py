"""JSON from clients, parsed into values that can always be sent on as UTF-8.

JSON may spell half of a UTF-16 surrogate pair as an escape (``"\\ud800"``); Python
decodes it to a lone surrogate, a ``str`` that no UTF-8 encoder accepts. Such a value
would fail wherever it goes next (an error frame echoing the ``ref``, the store, a
response), far from where it came in, so it is refused here, once, for every client
frame and request body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tether.errors import LoneSurrogate

# Only a \u escape of D800-DFFF can make a surrogate: text decoded from UTF-8 holds none.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse(raw: str | bytes) -> Any:
    """``json.loads(raw)``, refusing lone surrogates anywhere in keys or strings.

    Raises:
        ValueError: not JSON (as ``json.loads``).
        RecursionError: nested too deep to decode.
        LoneSurrogate: JSON, but a string holds an unpaired surrogate escape.
    """
    data = json.loads(raw)
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    if _SURROGATE_ESCAPE.search(text) is not None:  # rare: a full check only then
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise LoneSurrogate() from exc
    return data
