"""Pseudonymization of respondent ids: a keyed HMAC-SHA256, done before anything is written.

``respondent_key = HMAC-SHA256(key, school_id ␟ respondent_id)``, first 32 hex digits (128 bits):
stable across terms (fall and spring can be matched), irreversible without the key.

The key comes from ``LEAP_PSEUDONYM_KEY`` (hex, at least 16 bytes) or, on the embedded default, from
the key file ``$LEAP_DATA_DIR/secrets/pseudonym.key``, created on first use. The file is created
atomically (written and fsynced under a temporary name, then hard-linked into place, which fails if
another process linked first), so a process never reads an empty or partial key; a key file shorter
than 16 bytes is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from leap.errors import LeapError

MIN_KEY_BYTES = 16
_BLOCK = 64  # SHA-256 block size
_KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


class Pseudonymizer:
    """HMAC-SHA256 of (school, respondent) under one key.

    HMAC(k, m) = H((k ⊕ opad) ‖ H((k ⊕ ipad) ‖ m)) (RFC 2104). The two padded-key hash states are
    computed once and copied per call, half the cost of ``hmac.digest`` per pseudonym; the tests
    check the result against ``hmac.digest``.
    """

    __slots__ = ("key", "_inner", "_outer")

    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise LeapError(f"the pseudonymization key has {len(key)} bytes, fewer than {MIN_KEY_BYTES}",
                            hint=f"use 32 random bytes (64 hex digits); {_KEY_HINT}")
        self.key = key
        block = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def respondent_key(self, school_id: str, respondent_id: str) -> str:
        inner = self._inner.copy()
        inner.update(f"{school_id}\x1f{respondent_id}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    def __reduce__(self):  # hash states do not pickle; the key does
        return (Pseudonymizer, (self.key,))


def _from_hex(text: str, where: str) -> Pseudonymizer:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise LeapError(f"{where} is not a hex string", hint=_KEY_HINT) from None
    return Pseudonymizer(key)


def load_pseudonymizer(key_file: Path, *, allow_create: bool = True) -> tuple[Pseudonymizer, str]:
    """The pseudonymizer from ``LEAP_PSEUDONYM_KEY``, else from ``key_file`` (created on first use).

    Returns it and a description of where the key came from.
    """
    env = os.environ.get("LEAP_PSEUDONYM_KEY", "").strip()
    if env:
        return _from_hex(env, "LEAP_PSEUDONYM_KEY"), "environment variable LEAP_PSEUDONYM_KEY"
    if key_file.exists():
        return _from_hex(key_file.read_text(), f"the key file {key_file}"), str(key_file)
    if not allow_create:
        raise LeapError(f"no pseudonymization key at {key_file}", hint="set LEAP_PSEUDONYM_KEY")
    created = create_key_file(key_file)
    pseudonymizer = _from_hex(key_file.read_text(), f"the key file {key_file}")
    return pseudonymizer, f"{key_file} (created now)" if created else str(key_file)


def create_key_file(path: Path, what: str = "pseudonymization key", env: str = "LEAP_PSEUDONYM_KEY") -> bool:
    """Write a new random key to ``path`` unless another process got there first; True if this call did.

    Also the intake service's key (:mod:`intake.keys`): ``what`` and ``env`` name the key in the error."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails when the key exists: the first one wins
            return True
        except FileExistsError:
            return False
    except OSError as exc:
        raise LeapError(f"cannot create the {what} file {path}: {exc.strerror}",
                        hint=f"make LEAP_DATA_DIR writable or set {env}") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the directory could not be made: nothing was written
            pass
