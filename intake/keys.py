"""The intake service's one secret and everything derived from it.

The secret comes from ``LEAP_INTAKE_SECRET`` (hex) or, on the embedded default, from the key file
``$LEAP_DATA_DIR/secrets/intake.key``, created atomically on first use the way the pseudonymization key
is (:func:`ingestion.pseudonym.create_key_file`), so several server processes starting at once agree on
one key. Each use gets its own subkey, ``HMAC(secret, purpose)``, so a token made for one purpose never
verifies for another:

- ``code``: access codes are stored as ``HMAC-SHA256(subkey, normalized code)``, a keyed (salted) hash:
  the database alone, without the key, does not let anyone test guesses;
- ``csrf``: the signed double-submit token of the HTML forms (:meth:`Keyring.csrf_pair`);
- ``form``: the signed state a survey form carries (link, code, submission id, when it was served).

A new key invalidates every issued code and every open form: keep it, like the pseudonymization key.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets

import orjson

from ingestion.pseudonym import MIN_KEY_BYTES, create_key_file
from leap.config import Settings
from leap.errors import LeapError

SECRET_ENV = "LEAP_INTAKE_SECRET"
_HINT = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    """Subkeys of the intake secret and the hashes and signatures made with them."""

    def __init__(self, secret: bytes):
        if len(secret) < MIN_KEY_BYTES:
            raise LeapError(f"the intake key has {len(secret)} bytes, fewer than {MIN_KEY_BYTES}", hint=_HINT)
        self._keys = {p: hmac.digest(secret, p.encode(), "sha256") for p in ("code", "csrf", "form")}

    def code_hash(self, normalized_code: str) -> str:
        return hmac.new(self._keys["code"], normalized_code.encode(), "sha256").hexdigest()

    def sign(self, purpose: str, payload: dict) -> str:
        body = orjson.dumps(payload)
        return f"{_b64(body)}.{_b64(self._mac(purpose, body))}"

    def unsign(self, purpose: str, token: str | None) -> dict | None:
        """The payload of a token this keyring signed for ``purpose``; None for anything else."""
        try:
            body_text, mac_text = (token or "").split(".")
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:  # no dot, several dots, or not base64
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        payload = orjson.loads(body)
        return payload if isinstance(payload, dict) else None

    def csrf_pair(self, nonce: str | None = None) -> tuple[str, str]:
        """(cookie value, form field value) of a signed double-submit token: the cookie holds a random
        nonce, the form the nonce and its MAC. A forged form needs the cookie's nonce (which another site
        cannot read) and a cookie planted by a sibling domain needs a MAC (which needs the key)."""
        nonce = nonce or secrets.token_urlsafe(24)
        return nonce, f"{nonce}.{_b64(self._mac('csrf', nonce.encode()))}"

    def csrf_ok(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field or "." not in field:
            return False
        nonce = field.rsplit(".", 1)[0]
        return hmac.compare_digest(nonce, cookie) and hmac.compare_digest(field, self.csrf_pair(nonce)[1])

    def _mac(self, purpose: str, body: bytes) -> bytes:
        return hmac.digest(self._keys[purpose], body, "sha256")


def load_keyring(settings: Settings) -> Keyring:
    """The keyring of ``LEAP_INTAKE_SECRET``, else of the key file (created on first use)."""
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return Keyring(_from_hex(env, SECRET_ENV))
    path = settings.layout.intake_key
    if not path.exists():
        create_key_file(path, what="intake key", env=SECRET_ENV)
    return Keyring(_from_hex(path.read_text(), f"the key file {path}"))


def _from_hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise LeapError(f"{where} is not a hex string", hint=_HINT) from None

