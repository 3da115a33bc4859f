"""Offline Data Docs: the CDN scripts, styles and fonts of GE's pages, served from the site itself.

GE's page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and more from CDNs and
the logo from an S3 bucket; without a network the pages render blank. ``make setup`` runs
``infra/gx-assets/fetch.py``, which fetches the npm packages pinned in ``infra/gx-assets/assets.json``
(tarballs checked against ``infra/gx-assets/tarballs.sha256``) into ``.deps/gx-assets/``
(``LEAP_GX_ASSETS``), with a ``manifest.json`` mapping each CDN URL to its local file.

After GE has rendered the site, :func:`make_offline` copies those files to ``static/vendor/`` of the
site and rewrites every page: a CDN URL becomes the relative path of its local copy (pages sit at
different depths), the ``integrity``/``crossorigin`` attributes of such a tag go (a ``file:`` page
cannot make the CORS request they ask for; the tarballs are pinned by SHA-256 instead), the S3 logo
becomes the site's own ``static/images/logo-long.png`` and the dark-mode S3 logo of the stylesheet
goes. A page that would still load anything over the network afterwards is an error: an external
resource GE started using needs an entry in ``assets.json``. Plain ``<a href>`` links stay.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from leap.errors import LeapError

ASSETS_ENV = "LEAP_GX_ASSETS"
FETCH_HINT = "run `make setup` (it runs infra/gx-assets/fetch.py), or `python3 infra/gx-assets/fetch.py`"
VENDOR = Path("static") / "vendor"
# GE's own images, hot-linked from S3 although the site has a copy: {file name: site path, or None to drop}.
GE_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GE_IMAGES: dict[str, str | None] = {
    "logo-long.png": "static/images/logo-long.png",
    "full_logo_dark.png": None,  # the dark-mode logo (a CSS background): no local copy, so none
}

# Tags whose src/href the browser loads, and the <link rel> values that make it load its href.
_LOADING_TAGS = {"script", "img", "iframe", "embed", "source", "video", "audio", "track", "input", "link"}
_LOADING_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "prefetch", "preconnect",
                 "dns-prefetch", "manifest", "apple-touch-icon", "mask-icon"}
_TAG = re.compile(r"<(script|link|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(src|href)(\s*=\s*)(["'])(https?://[^"']*)\3""", re.IGNORECASE)
_LOCAL_ATTR = re.compile(r"""\b(src|href)(\s*=\s*)(["'])((?:\.\./|\./)*static/[^"':?#]+)\3""", re.IGNORECASE)
_SRI_ATTRS = re.compile(r"""\s+(?:integrity|crossorigin)(?![\w-])(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(https?://[^"')\s]+)\1\s*\)""", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*((?:https?:)?//[^"')\s]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class AssetBundle:
    """The fetched, verified files: ``root`` and {CDN URL without query: path under ``root``}."""

    root: Path
    urls: dict[str, str]
    packages: dict[str, dict]

    @property
    def dirs(self) -> list[str]:
        return sorted(p["dir"] for p in self.packages.values())


def assets_home() -> Path:
    """Where ``infra/gx-assets/fetch.py`` keeps the files (``LEAP_GX_ASSETS``, default ``<repo>/.deps/gx-assets``)."""
    env = os.environ.get(ASSETS_ENV, "").strip()
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".deps" / "gx-assets"


def load_assets(home: Path | None = None) -> AssetBundle:
    """The fetched bundle, every file checked against ``FILES.sha256``; a LeapError naming the fix if not."""
    home = home or assets_home()
    listing = home / "FILES.sha256"
    try:
        lines = listing.read_text().splitlines()
        manifest = json.loads((home / "manifest.json").read_text())
    except (OSError, ValueError):
        raise LeapError(f"the Data Docs' scripts and styles are not fetched (no verified files in {home}), "
                        "so the pages cannot render offline", hint=FETCH_HINT) from None
    for line in filter(None, map(str.strip, lines)):
        digest, rel = line.split(maxsplit=1)
        path = home / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise LeapError(f"{path} is missing or changed since it was fetched and verified", hint=FETCH_HINT)
    urls = {_strip_query(u): rel for u, rel in manifest["urls"].items()}
    return AssetBundle(home, urls, manifest["packages"])


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _relative(target: Path, page: Path) -> str:
    """The URL of ``target`` relative to the folder of ``page`` (both on disk)."""
    return quote(os.path.relpath(target, page.parent).replace(os.sep, "/"), safe="/@._-~+=")


def _local_target(url: str, site: Path, vendor: Path, urls: dict[str, str]) -> Path | None | bool:
    """The local file for ``url``; None: drop the reference; False: unknown (not a CDN URL we serve)."""
    key = _strip_query(url)
    if key in urls:
        return vendor / urls[key]
    if key.startswith(GE_WEB_ASSETS):
        name = key.removeprefix(GE_WEB_ASSETS)
        if name in GE_IMAGES:
            local = GE_IMAGES[name]
            return site / local if local and (site / local).is_file() else None
    return False


def rewrite_html(html: str, page: Path, site: Path, vendor: Path, urls: dict[str, str]) -> str:
    """``html`` of the page at ``page`` with every known CDN URL of a script/link/img tag and of its CSS
    pointing at the local copy (relative to ``page``); an <img> whose image has no local copy is dropped."""

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        url_match = _URL_ATTR.search(text)
        if not url_match:
            return _fix_static_depth(text, page, site)
        target = _local_target(url_match.group(4), site, vendor, urls)
        if target is False:
            return text
        if target is None:
            return "" if match.group(1).lower() == "img" else text
        start, end = url_match.span(4)
        text = text[:start] + _relative(target, page) + text[end:]
        return _SRI_ATTRS.sub("", text)

    return rewrite_css(_TAG.sub(tag, html), page, site, vendor, urls)


def _fix_static_depth(tag: str, page: Path, site: Path) -> str:
    """GE links the favicon of validation pages one folder too shallow (``../../../static/…`` from four
    levels down): a ``static/`` path that does not resolve from ``page`` but exists in the site is re-pointed."""
    local = _LOCAL_ATTR.search(tag)
    if not local:
        return tag
    ref = local.group(4)
    rest = re.sub(r"^(?:\.\./|\./)*", "", ref)
    if (page.parent / unquote(ref)).exists() or not (site / unquote(rest)).is_file():
        return tag
    start, end = local.span(4)
    return tag[:start] + _relative(site / unquote(rest), page) + tag[end:]


def rewrite_css(css: str, sheet: Path, site: Path, vendor: Path, urls: dict[str, str]) -> str:
    """``url(https://…)`` of known files made relative to ``sheet``; an image without local copy: ``none``."""

    def url(match: re.Match[str]) -> str:
        target = _local_target(match.group(2), site, vendor, urls)
        if target is False:
            return match.group(0)
        return "none" if target is None else f'url("{_relative(target, sheet)}")'

    return _CSS_URL.sub(url, css)


class _RemoteLoads(HTMLParser):
    """Collects the URLs a browser would fetch over the network for one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            candidates = [values.get("href", "")] if rels & _LOADING_RELS else []
        elif tag in _LOADING_TAGS:
            candidates = [values.get("src", ""), values.get("poster", "")]
            candidates += [part.strip().split(" ")[0] for part in values.get("srcset", "").split(",")]
        else:
            candidates = []
        self.found += [c for c in candidates if _is_remote(c)]
        self.found += _css_remote(values.get("style", ""))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found += _css_remote(data)


def _is_remote(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


def _css_remote(css: str) -> list[str]:
    return [m.group(1) for m in _CSS_REMOTE.finditer(css)]


def remote_loads(html: str) -> list[str]:
    """The network URLs a browser showing ``html`` would fetch (scripts, styles, images, CSS url()/@import)."""
    parser = _RemoteLoads()
    parser.feed(html)
    parser.close()
    return parser.found


def make_offline(site: Path, bundle: AssetBundle) -> int:
    """Copy the bundle into ``site/static/vendor/`` and rewrite every page and stylesheet of the site to
    load nothing from the network; returns the number of files rewritten. A LeapError lists whatever
    would still be loaded remotely."""
    vendor = site / VENDOR
    staging = vendor.with_name(vendor.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in bundle.dirs:
        shutil.copytree(bundle.root / name, staging / name)
    shutil.rmtree(vendor, ignore_errors=True)
    staging.rename(vendor)

    changed = 0
    remaining: dict[str, list[str]] = {}
    for path in sorted(site.rglob("*")):
        if not path.is_file() or vendor in path.parents or path.suffix.lower() not in (".html", ".htm", ".css"):
            continue
        text = path.read_text(encoding="utf-8")
        is_css = path.suffix.lower() == ".css"
        new = (rewrite_css if is_css else rewrite_html)(text, path, site, vendor, bundle.urls)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
        left = _css_remote(new) if is_css else remote_loads(new)
        if left:
            remaining[str(path.relative_to(site))] = left
    if remaining:
        urls = sorted({u for found in remaining.values() for u in found})
        raise LeapError(f"{len(remaining)} Data Docs file(s) under {site} still load from the network: "
                        + ", ".join(urls[:8]) + (" …" if len(urls) > 8 else ""),
                        hint="map these URLs to npm package files in infra/gx-assets/assets.json, then run "
                             "`python3 infra/gx-assets/fetch.py --update-checksums` and `leap validate docs`")
    return changed
