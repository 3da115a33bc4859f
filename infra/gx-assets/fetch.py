#!/usr/bin/env python3
"""Fetch the scripts, styles and fonts of the Great Expectations Data Docs for offline use.

Downloads the npm package tarballs pinned in infra/gx-assets/assets.json from the npm registry (no node
or npm needed), checks each against infra/gx-assets/tarballs.sha256, extracts only the files the Data
Docs pages load into .deps/gx-assets/<package>-<version>/, and writes there:

    manifest.json   CDN URL -> local file, and the pinned packages (read by expectations/docs_assets.py)
    FILES.sha256    the SHA-256 of every extracted file (checked by later runs and by `leap validate docs`)
    FETCHED         a summary line, then a stamp of assets.json + tarballs.sha256

    infra/gx-assets/fetch.py                      fetch and verify (a no-op when .deps/gx-assets is already verified)
    infra/gx-assets/fetch.py --update-checksums   after changing assets.json: rewrite tarballs.sha256 from the
                                                  download (each tarball checked against the registry's own
                                                  sha512 integrity first); review and commit it

LEAP_GX_ASSETS overrides the destination (default: <repository>/.deps/gx-assets); `leap validate docs`
reads the same variable. npm_config_registry (as npm spells it) points at a registry mirror.
Standard library only: `make setup` runs it right after infra/kafka/fetch.sh.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ASSETS = HERE / "assets.json"
SUMS = HERE / "tarballs.sha256"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 60
ATTEMPTS = 3
# Files of the destination that are not extracted package files.
META = ("FETCHED", "FILES.sha256")


class FetchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"gx-assets: {msg}", file=sys.stderr)


def dest_dir() -> Path:
    env = os.environ.get("LEAP_GX_ASSETS", "").strip()
    return Path(env) if env else ROOT / ".deps" / "gx-assets"


def registry() -> str:
    for var in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        value = os.environ.get(var, "").strip()
        if value:
            return value.rstrip("/")
    return DEFAULT_REGISTRY


def short_name(pkg: dict) -> str:
    return pkg["name"].rsplit("/", 1)[-1]  # @scope/name -> name


def package_dir(pkg: dict) -> str:
    return f"{short_name(pkg)}-{pkg['version']}"


def tarball_name(pkg: dict) -> str:
    return f"{package_dir(pkg)}.tgz"


def _safe_rel(path: str, what: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise FetchError(f"{what}: {path!r} is not a plain relative path")
    return rel


def load_assets() -> list[dict]:
    """The pinned packages of assets.json, checked for shape (every CDN URL names an extracted file)."""
    packages = json.loads(ASSETS.read_text())["packages"]
    seen: set[str] = set()
    for pkg in packages:
        where = f"{ASSETS.name} {pkg.get('name')}"
        if not pkg.get("name") or not pkg.get("version") or not pkg.get("files"):
            raise FetchError(f"{where}: needs name, version and files")
        if package_dir(pkg) in seen:
            raise FetchError(f"{where}: {package_dir(pkg)} is pinned twice")
        seen.add(package_dir(pkg))
        for f in pkg["files"]:
            _safe_rel(f, where)
        for url, f in pkg.get("cdn", {}).items():
            _safe_rel(f, where)
            if not url.startswith(("https://", "http://")):
                raise FetchError(f"{where}: {url!r} is not an http(s) URL")
            if not any(f == want or (want.endswith("/") and f.startswith(want)) for want in pkg["files"]):
                raise FetchError(f"{where}: {url} maps to {f}, which is not among its files")
    return packages


def read_sums() -> dict[str, str]:
    """tarballs.sha256 (sha256sum format: ``<hex>  <tarball>``) as {tarball: hex}."""
    if not SUMS.exists():
        raise FetchError(f"{SUMS} is missing; create it with: {sys.argv[0]} --update-checksums")
    sums: dict[str, str] = {}
    for line in SUMS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").strip()] = digest.lower()
    return sums


def stamp() -> str:
    h = hashlib.sha256(ASSETS.read_bytes())
    h.update(b"\0" + (SUMS.read_bytes() if SUMS.exists() else b""))
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_tree(root: Path) -> None:
    """The files under ``root`` are exactly those of its FILES.sha256, with those digests."""
    listing = root / "FILES.sha256"
    if not listing.is_file():
        raise FetchError(f"{listing} is missing")
    expected: dict[str, str] = {}
    for line in listing.read_text().splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            expected[rel.strip()] = digest
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - set(META)
    if present != set(expected):
        extra, missing = sorted(present - set(expected)), sorted(set(expected) - present)
        raise FetchError(f"the files in {root} are not the fetched set (missing: {missing[:5]}, extra: {extra[:5]})")
    for rel, digest in expected.items():
        if sha256_file(root / rel) != digest:
            raise FetchError(f"{root / rel} does not match its SHA-256 in {listing}")


def is_current(dest: Path) -> bool:
    try:
        lines = (dest / "FETCHED").read_text().splitlines()
        if len(lines) < 2 or lines[1].strip() != stamp():
            return False
        verify_tree(dest)
    except (OSError, FetchError, ValueError):
        return False
    return True


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "leap-gx-assets-fetch"})
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == ATTEMPTS:
                raise FetchError(f"GET {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == ATTEMPTS:
                reason = getattr(exc, "reason", exc)
                raise FetchError(f"GET {url}: {reason} (is {registry()} reachable?)") from None
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def registry_integrity_ok(pkg: dict, data: bytes) -> None:
    """The tarball is the one the registry published: its ``dist.integrity`` (sha512) or ``dist.shasum``."""
    meta = json.loads(_get(f"{registry()}/{pkg['name']}/{pkg['version']}"))
    dist = meta.get("dist", {})
    integrity = dist.get("integrity", "")
    if integrity.startswith("sha512-"):
        ok = base64.b64decode(integrity.removeprefix("sha512-")) == hashlib.sha512(data).digest()
    elif dist.get("shasum"):
        ok = dist["shasum"] == hashlib.sha1(data).hexdigest()  # noqa: S324 - the registry's own checksum
    else:
        raise FetchError(f"the registry publishes no checksum for {pkg['name']}@{pkg['version']}")
    if not ok:
        raise FetchError(f"{tarball_name(pkg)} does not match the registry's checksum of {pkg['name']}@{pkg['version']}")


def extract(pkg: dict, data: bytes, out: Path) -> list[str]:
    """Write the package's wanted files under ``out/<package>-<version>/``; returns their paths under ``out``."""
    target = out / package_dir(pkg)
    written: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        tops = {PurePosixPath(m.name).parts[0] for m in files}
        if len(tops) != 1:
            raise FetchError(f"{tarball_name(pkg)}: expected one top folder, found {sorted(tops)[:5]}")
        by_rel = {PurePosixPath(*PurePosixPath(m.name).parts[1:]).as_posix(): m for m in files}
        for want in pkg["files"]:
            if want.endswith("/"):
                picked = sorted(rel for rel in by_rel if rel.startswith(want))
            else:
                picked = [want] if want in by_rel else []
            if not picked:
                raise FetchError(f"{tarball_name(pkg)} has no {want}")
            for rel in picked:
                path = target / _safe_rel(rel, tarball_name(pkg))
                path.parent.mkdir(parents=True, exist_ok=True)
                reader = tar.extractfile(by_rel[rel])
                assert reader is not None
                path.write_bytes(reader.read())
                written.append(path.relative_to(out).as_posix())
    return written


def fetch(update: bool) -> Path:
    dest = dest_dir()
    if not update and is_current(dest):
        return dest  # fetched before and still intact
    packages = load_assets()
    pinned = {} if update else read_sums()
    if not update:
        unknown = sorted(set(pinned) - {tarball_name(p) for p in packages})
        if unknown:
            raise FetchError(f"{SUMS.name} lists {unknown}, which {ASSETS.name} does not pin; "
                             "run with --update-checksums")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".gx-assets-fetch.", dir=dest.parent))
    try:
        out = tmp / "out"
        out.mkdir()
        log(f"fetching {len(packages)} npm packages from {registry()} into {dest}")
        digests: dict[str, str] = {}
        written: list[str] = []
        for pkg in packages:
            name = tarball_name(pkg)
            data = _get(f"{registry()}/{pkg['name']}/-/{name}")
            digest = hashlib.sha256(data).hexdigest()
            if update:
                registry_integrity_ok(pkg, data)
            elif name not in pinned:
                raise FetchError(f"{name} has no SHA-256 in {SUMS}; run with --update-checksums")
            elif pinned[name] != digest:
                raise FetchError(f"{name} does not match its pinned SHA-256 in {SUMS} "
                                 f"(got {digest}, pinned {pinned[name]})")
            digests[name] = digest
            written += extract(pkg, data, out)
        if update:
            SUMS.write_text("".join(f"{digests[tarball_name(p)]}  {tarball_name(p)}\n" for p in packages))
            log(f"wrote {SUMS} ({len(packages)} tarballs); review and commit it")
        manifest = {
            "packages": {p["name"]: {"version": p["version"], "dir": package_dir(p),
                                     "sha256": digests[tarball_name(p)]} for p in packages},
            "urls": {url: f"{package_dir(p)}/{f}" for p in packages for url, f in p.get("cdn", {}).items()},
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        written.append("manifest.json")
        (out / "FILES.sha256").write_text("".join(f"{sha256_file(out / rel)}  {rel}\n" for rel in sorted(written)))
        (out / "FETCHED").write_text(f"{len(packages)} npm packages, {len(written) - 1} files\n{stamp()}\n")
        verify_tree(out)
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)
        out.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{len(packages)} packages ready in {dest} ({len(written) - 1} files, verified)")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update-checksums", action="store_true",
                        help="rewrite tarballs.sha256 from the download (after changing assets.json)")
    args = parser.parse_args(argv)
    try:
        fetch(args.update_checksums)
    except (FetchError, OSError, ValueError, KeyError, tarfile.TarError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
