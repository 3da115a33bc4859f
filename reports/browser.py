"""An offline headless Chromium to look at self-contained HTML reports and print them to PDF.

Drives the system Chromium (the Debian ``chromium`` package, ``make setup`` installs it) through
Playwright's sync API; ``playwright install`` is never needed or run. The browser is offline by
construction: every request whose URL is not ``file:``, ``data:``, ``about:`` or ``blob:`` is aborted
and its URL recorded in :attr:`OfflineBrowser.blocked_requests`, WebSockets are refused the same way,
service workers are blocked and host names resolve to nothing. A report that needs the network is a
bug this makes visible instead of a PDF that differs with the weather.

One browser process serves many documents: :meth:`OfflineBrowser.pdf` reuses one page, so printing
thousands of reports costs one browser start::

    with offline_browser() as browser:
        for html in reports:
            browser.pdf(html, html.with_suffix(".pdf"))
            assert not browser.blocked_requests

Playwright's sync API refuses to run inside a running asyncio event loop, and its objects belong to
the thread that created them: use one :func:`offline_browser` per thread or process (Airflow tasks
run in plain processes, which is fine).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from leap.errors import LeapError

if TYPE_CHECKING:  # Playwright is imported when a browser starts, not when this module is imported
    from playwright.sync_api import BrowserContext, Page, Playwright, Route, WebSocketRoute

CHROMIUM_ENV = "LEAP_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "apt-get install -y chromium (or `make setup` as root), or set LEAP_CHROMIUM to its path"

# --headless and --no-sandbox are added by Playwright too; the temporary --user-data-dir is passed as
# launch_persistent_context's user_data_dir (Playwright refuses it among the args).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    # Belt and braces behind the request routing: no host name resolves (IP literals are still
    # caught by the routing), so not even a DNS prefetch or preconnect leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
# Matched by the Playwright driver itself, so local requests never make a round trip to Python.
NOT_LOCAL = re.compile(r"^(?!(?:file|data|about|blob):)")
ANY_URL = re.compile(r".*")

Paper = Literal["A4", "Letter"]
PDF_MARGIN = {"top": "12mm", "right": "12mm", "bottom": "16mm", "left": "12mm"}
FOOTER_TEMPLATE = (
    '<div style="width:100%;font-size:8pt;font-family:sans-serif;color:#555;text-align:center;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
RECYCLE_PRINT_PAGE_EVERY = 500  # a fresh print page now and then keeps a long batch's memory flat

_open_here = threading.local()  # how many offline browsers this thread has open (Playwright allows one)


def find_chromium() -> str:
    """Path of the Chromium executable: ``$LEAP_CHROMIUM`` if set, else ``chromium`` or ``chromium-browser`` on PATH."""
    override = os.environ.get(CHROMIUM_ENV, "").strip()
    if override:
        found = shutil.which(override)
        if not found:
            raise LeapError(f"{CHROMIUM_ENV}={override} is not an executable", hint=INSTALL_HINT)
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise LeapError("Chromium is not installed: it renders the reports and prints them to PDF",
                    hint=INSTALL_HINT)


def pdf_page_count(path: str | os.PathLike[str]) -> int:
    """Number of pages of a PDF, by counting its ``/Type /Page`` objects (Chromium writes them uncompressed)."""
    data = Path(path).read_bytes()
    if not data.startswith(b"%PDF-"):
        raise LeapError(f"{path} is not a PDF file")
    pages = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
    if pages == 0:
        raise LeapError(f"cannot count the pages of {path}: no uncompressed page objects "
                        "(a PDF with object streams; this counter reads the PDFs Chromium prints)")
    return pages


def _file_url(path: str | os.PathLike[str]) -> str:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise LeapError(f"no such HTML file: {resolved}")
    return resolved.as_uri()


class OfflineBrowser:
    """One headless Chromium, offline; made by :func:`offline_browser`."""

    def __init__(self, playwright: Playwright, context: BrowserContext, *, paper: Paper = "A4"):
        self._playwright = playwright
        self._context = context
        self._paper: Paper = paper
        self._print_page: Page | None = None
        self._printed = 0
        self._closed = False
        #: URLs of the requests blocked since the last :meth:`open` or :meth:`pdf` began (a new list each time).
        self.blocked_requests: list[str] = []
        context.route(NOT_LOCAL, self._block)
        context.route_web_socket(ANY_URL, self._block_websocket)

    # -- request blocking -------------------------------------------------------------------------
    def _block(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):  # never matched by NOT_LOCAL; kept for safety
            route.continue_()
            return
        self.blocked_requests.append(url)
        route.abort("blockedbyclient")

    def _block_websocket(self, ws: WebSocketRoute) -> None:
        self.blocked_requests.append(ws.url)
        ws.close(code=1008, reason="offline browser")

    # -- pages ------------------------------------------------------------------------------------
    def open(self, path: str | os.PathLike[str]) -> Page:
        """A new page showing the local HTML file ``path``, loaded (the ``load`` event fired, fonts ready).

        Resets :attr:`blocked_requests`. Close the page when done with it (``page.close()``), or leave
        it to :meth:`close`.
        """
        url = _file_url(path)
        self._check_open()
        self.blocked_requests = []
        page = self._context.new_page()
        self._load(page, url)
        return page

    def pdf(self, html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str], *,
            landscape: bool = False, paper: Paper | None = None, page_numbers: bool = True) -> Path:
        """Print the local HTML file ``html_path`` to ``pdf_path``, with backgrounds; returns ``pdf_path``.

        Paper is A4 unless ``paper`` (or the browser's default) says Letter; margins 12 mm, 16 mm at the
        bottom for the "page / pages" footer (``page_numbers=False`` leaves it out). Resets
        :attr:`blocked_requests`, which afterwards lists what the document tried to fetch.
        """
        url = _file_url(html_path)
        self._check_open()
        self.blocked_requests = []
        page = self._page_for_printing()
        self._load(page, url)
        out = Path(pdf_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(
            path=out,
            format=paper or self._paper,
            landscape=landscape,
            print_background=True,
            margin=PDF_MARGIN,
            display_header_footer=page_numbers,
            header_template="<span></span>" if page_numbers else None,
            footer_template=FOOTER_TEMPLATE if page_numbers else None,
        )
        self._printed += 1
        return out

    def close(self) -> None:
        """Close every page and the browser, and stop Playwright's driver. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._context.close()  # a persistent context: closing it ends the browser process
        finally:
            self._playwright.stop()

    # -- internals --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise LeapError("the offline browser is closed")

    def _page_for_printing(self) -> Page:
        page = self._print_page
        if page is not None and (page.is_closed() or self._printed % RECYCLE_PRINT_PAGE_EVERY == 0):
            if not page.is_closed():
                page.close()
            page = None
        if page is None:
            page = self._print_page = self._context.new_page()
        return page

    @staticmethod
    def _load(page: Page, url: str) -> None:
        page.goto(url, wait_until="load")
        page.evaluate("() => document.fonts.ready.then(() => true)")


def _refuse_inside_event_loop() -> None:
    if getattr(_open_here, "count", 0):
        # Playwright's sync API keeps its event loop running in this thread while a browser is open.
        raise LeapError("an offline browser is already open in this thread, and Playwright's sync API allows one",
                        hint="reuse it, or start the second one in another thread or process")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise LeapError("the offline browser uses Playwright's sync API, which cannot run inside an asyncio event loop",
                    hint="call it from a plain thread (asyncio.to_thread) or a separate process")


@contextmanager
def offline_browser(*, paper: Paper = "A4", timeout_ms: float = 30_000) -> Iterator[OfflineBrowser]:
    """Start one offline headless Chromium, yield an :class:`OfflineBrowser`, and shut it all down after.

    The browser profile lives in a temporary ``--user-data-dir`` removed on exit, also when the
    block raises or the browser fails to start. ``timeout_ms`` bounds every load and print.
    """
    _refuse_inside_event_loop()
    executable = find_chromium()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="leap-chromium-")
    playwright = None
    _open_here.count = getattr(_open_here, "count", 0) + 1
    try:
        playwright = sync_playwright().start()
        try:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_FLAGS),
                service_workers="block",
                accept_downloads=False,
                timeout=timeout_ms,
            )
        except PlaywrightError as exc:
            raise LeapError(f"Chromium ({executable}) did not start: {exc.message.splitlines()[0]}",
                            hint=f"check that `{executable} --headless --no-sandbox --dump-dom about:blank` "
                                 "runs on this machine") from exc
        context.set_default_timeout(timeout_ms)
        for page in context.pages:  # the blank tab a persistent context starts with
            page.close()
        browser = OfflineBrowser(playwright, context, paper=paper)
        playwright = None  # owned by the browser from here on
        try:
            yield browser
        finally:
            browser.close()
    finally:
        if playwright is not None:
            playwright.stop()
        _open_here.count -= 1
        shutil.rmtree(profile, ignore_errors=True)
