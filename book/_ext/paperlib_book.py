"""Sphinx additions of the book (a local extension named in ``_config.yml``).

- Every notebook page offers its notebook as MyST Markdown (``.md``, a text notebook that
  jupytext and MyST-NB open) beside the ``.ipynb`` in the download menu.
- Docstrings of the API reference may use Markdown code fences (as in Equinox); they become
  ``code-block`` directives for autodoc.
- No page loads Thebe (live code cells, not offered here: pages launch on Binder or Colab):
  jupyter-book 1.x declares its script twice, a console error on every page, and names a CDN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


def _escape_bars(line: str) -> str:
    """``|λ|`` is a modulus in the docstrings, not an RST substitution: escape bars outside literals."""
    parts = line.split("``")
    return "``".join(part.replace("|", "\\|") if i % 2 == 0 else part for i, part in enumerate(parts))


def docstring_to_rst(app, what, name, obj, options, lines: list[str]) -> None:
    """Rewrite ```lang … ``` in a docstring, in place, as ``.. code-block:: lang``; escape ``|``."""
    out, inside, indent = [], False, ""
    for line in lines:
        match = _FENCE.match(line)
        if match and not inside:
            inside, indent = True, match[1]
            out += [f"{indent}.. code-block:: {match[2] or 'text'}", ""]
        elif match and inside:
            inside = False
            out.append("")
        elif inside:
            out.append(f"{indent}   {line[len(indent) :]}" if line.strip() else line)
        else:
            out.append(_escape_bars(line))
    lines[:] = out


def notebook_as_markdown(notebook: dict) -> str:
    """A notebook as MyST Markdown: front matter with the kernel, markdown cells as they are,
    code cells as ``{code-cell}`` blocks keeping their tags (outputs are not kept)."""
    kernel = notebook.get("metadata", {}).get("kernelspec", {"name": "python3", "display_name": "Python 3"})
    parts = [
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        f"  display_name: {kernel.get('display_name', 'Python 3')}\n  name: {kernel.get('name', 'python3')}\n---"
    ]
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            parts.append(source)
        elif cell["cell_type"] == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            head = "```{code-cell} ipython3" + (f"\n:tags: {json.dumps(tags)}" if tags else "")
            parts.append(f"{head}\n{source}\n```")
    return "\n\n".join(parts) + "\n"


def add_markdown_download(app, pagename, templatename, context, doctree) -> None:
    """Put ``.md`` in the page's download menu (after the theme has built the menu)."""
    if context.get("page_source_suffix") != ".ipynb":
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": f"{context['pathto']('_sources', 1)}/{pagename}.md",
                    "text": ".md",
                    "tooltip": "Download the notebook as MyST Markdown",
                    "icon": "fas fa-file-lines",
                    "label": "download-markdown-button",
                },
            )


def set_default_mode(app, pagename, templatename, context, doctree) -> None:
    """The light/dark mode a first visit starts in (empty, the theme logs an error and resets it)."""
    context["default_mode"] = context.get("default_mode") or "auto"


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    def thebe(asset) -> bool:
        name = str(getattr(asset, "filename", "") or "")
        return "thebe" in name or "THEBE_JS_URL" in str(getattr(asset, "attributes", {}).get("body", ""))

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not thebe(asset)]


def write_markdown_sources(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        source = Path(app.env.doc2path(docname))
        if source.suffix == ".ipynb":
            target = Path(app.outdir) / "_sources" / f"{docname}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(notebook_as_markdown(json.loads(source.read_text())))


def setup(app):
    app.connect("autodoc-process-docstring", docstring_to_rst)
    app.connect("html-page-context", add_markdown_download, priority=600)
    app.connect("html-page-context", drop_thebe, priority=600)
    app.connect("html-page-context", set_default_mode, priority=600)
    app.connect("build-finished", write_markdown_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
