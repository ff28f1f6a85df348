"""The tiny book as a reader sees it: every page opened in headless Chromium (Debian's ``chromium``,
driven by Playwright), served over HTTP from the built site with no network beyond it."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site(tiny_book):
    """``(base_url, html_dir)``: the built site served on a free localhost port."""
    html = tiny_book.index.parent
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _pages(html) -> list[str]:
    pages = ["intro.html", "genindex.html", "search.html"]  # index.html only redirects to intro.html
    for folder in ("notebooks", "api"):
        pages += [str(p.relative_to(html)) for p in sorted((html / folder).glob("*.html"))]
    return pages


def _open(browser, url: str):
    """Open ``url``; return the page and the console errors and uncaught exceptions it raised."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.on("response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, errors


def test_every_page_loads_without_errors_and_every_figure_has_pixels(site, browser):
    base, html = site
    pages = _pages(html)
    assert len([p for p in pages if p.startswith("notebooks/")]) == len(list(html.glob("notebooks/*.html"))) >= 10
    figures = 0
    for name in pages:
        page, errors = _open(browser, f"{base}/{name}")
        sizes = page.eval_on_selector_all(
            "article img", "images => images.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        page.close()
        assert not errors, f"{name}: {errors}"
        empty = [src for src, complete, width in sizes if not (complete and width > 0)]
        assert not empty, f"{name}: images without pixels: {empty}"
        figures += len(sizes)
    assert figures >= 20


def test_equations_are_typeset_by_mathjax_from_the_site_itself(site, browser):
    base, _ = site
    page, errors = _open(browser, f"{base}/intro.html")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")
    typeset = page.locator("mjx-container").count()
    sources = page.eval_on_selector_all("script[src*='mathjax' i]", "s => s.map(x => x.src)")
    page.close()
    assert not errors, errors
    assert typeset >= 5  # the four cells' equations and the readout
    assert sources and all(src.startswith(base) for src in sources)


def test_every_notebook_page_has_launch_and_download_buttons(site, browser, tiny_book):
    base, html = site
    repo = tiny_book.repository
    for path in sorted(html.glob("notebooks/*.html")):
        name = path.stem
        page, errors = _open(browser, f"{base}/notebooks/{name}.html")
        links = page.eval_on_selector_all(".article-header-buttons a[href]", "links => links.map(a => a.href)")
        page.close()
        assert not errors, f"{name}: {errors}"
        launched = f"notebooks/{name}.ipynb"
        binder = [u for u in links if u.startswith(f"https://mybinder.org/v2/gh/{repo.owner}/{repo.name}/")]
        colab = [
            u for u in links if u.startswith(f"https://colab.research.google.com/github/{repo.owner}/{repo.name}/")
        ]
        assert binder and binder[0].endswith(launched), f"{name}: Binder button {links}"
        assert colab and colab[0].endswith(launched), f"{name}: Colab button {links}"
        for suffix in (".ipynb", ".md"):
            download = f"{base}/_sources/notebooks/{name}{suffix}"
            assert download in links, f"{name}: no {suffix} download in {links}"
            assert (html / "_sources" / "notebooks" / f"{name}{suffix}").stat().st_size > 0
