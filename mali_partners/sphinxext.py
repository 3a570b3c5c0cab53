"""Sphinx extension for the book: the version banner on every page and the version switcher.

At build time it reads the corpus and configuration (never typed values) and shows, on
every page, the book version, the corpus version (hash, articles, date range), the code
commit and the build date; published pages also get a version switcher fed by
``versions.json`` at the site root (see :mod:`mali_partners.publish`).
"""

from __future__ import annotations

import html
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

from .bookinfo import book_info
from .publish import redirect_html

STATIC = Path(__file__).parent / "static"


def banner_html(info: dict) -> str:
    """The banner shown at the top of every page (values escaped)."""
    e = {k: html.escape(str(v)) for k, v in info.items()}
    return (
        f'<div class="mp-banner">Book <strong>{e["book_version"]}</strong> · '
        f"corpus <code>{e['corpus_version']}</code> ({e['n_articles']} articles published {e['date_earliest']} to {e['date_latest']}) · "
        f"code <code>{e['commit']}</code> · built {e['build_date']} "
        f'<span id="mp-version-switcher" data-version="{e["book_version"]}" hidden></span></div>'
    )


def _config_inited(app: Sphinx, config: Config) -> None:
    info = book_info(app.srcdir)
    config.html_context = {**(config.html_context or {}), "mp_info": info}
    options = dict(config.html_theme_options or {})
    options["announcement"] = banner_html(info)
    config.html_theme_options = options
    static = list(config.html_static_path or [])
    if str(STATIC) not in static:
        static.append(str(STATIC))
    config.html_static_path = static


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Remove sphinx-thebe's scripts, which Jupyter Book always loads: live code is off in
    this book, the scripts point at a CDN, and the inline one is added twice on some pages
    (a console SyntaxError)."""
    # the theme's head script falls back to this when the reader has no saved colour mode;
    # empty, it logs "Got invalid theme mode" on a first visit
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            js
            for js in scripts
            if "thebe" not in str(getattr(js, "filename", js) or "").lower()
            and "THEBE" not in str(getattr(js, "attributes", {}).get("body", ""))
        ]


def _write_redirect(app: Sphinx, exception: Exception | None) -> None:
    """Write ``index.html`` when the book's first page is elsewhere; Jupyter Book only
    writes its bare one when none exists."""
    if exception is not None or app.builder.name != "html" or app.config.root_doc == "index":
        return
    out = Path(app.outdir)
    icon = app.config.html_favicon
    icon_href = f"_static/{Path(icon).name}" if icon and (out / "_static" / Path(icon).name).is_file() else None
    page = redirect_html(app.config.html_title or app.config.project, f"{app.config.root_doc}.html", icon_href)
    (out / "index.html").write_text(page, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    """Register the banner, the switcher script, the stylesheet and the redirect page."""
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _write_redirect)
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.add_js_file("version-switcher.js")
    app.add_css_file("mali-partners.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
