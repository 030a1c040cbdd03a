"""Markdown to safe HTML for the ``html`` field of assistant messages.

The answer's markdown comes from a bot, and a bot repeats what users type, so its output is untrusted.
Three layers, each simple on its own:

1. markdown-it-py (CommonMark + tables + strikethrough) with raw HTML *disabled*: ``<script>`` in the
   markdown stays text. Images become plain links (the page's CSP allows no image from another origin,
   and a tracking pixel should not load silently); table alignment becomes a class, not a ``style``
   attribute (the CSP forbids inline styles).
2. Pygments highlights fenced code with CSS classes (``.hl .k`` ...; the page ships the stylesheet).
3. nh3 (ammonia) cleans the result with an allow-list of tags, attributes, classes and URL schemes,
   and adds ``target="_blank" rel="noopener noreferrer"`` to links.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Pygments ships no type hints (types-Pygments is not a dependency).
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
from pygments.token import STANDARD_TYPES  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

__all__ = ["render_markdown"]

CACHE_MAX_CHARS = 8_000
"""Answers up to this size are cached (history pages render the same answers again and again)."""

_ALIGN_CLASSES = {
    "text-align:left": "al-left",
    "text-align:center": "al-center",
    "text-align:right": "al-right",
}
_TOKEN_CLASSES = {name for name in STANDARD_TYPES.values() if name}
_FORMATTER = HtmlFormatter(nowrap=True)  # spans with short classes only; we write the <pre> ourselves

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip

_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "pre": {"data-lang"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    allowed_classes={
        "pre": {"hl"},
        "span": _TOKEN_CLASSES,
        "th": set(_ALIGN_CLASSES.values()),
        "td": set(_ALIGN_CLASSES.values()),
    },
)


def _highlight_code(code: str, lang: str, _attrs: str) -> str:
    """Fenced code: highlighted spans when Pygments knows the language, escaped text otherwise."""
    name = lang.strip().split(maxsplit=1)[0].lower() if lang.strip() else ""
    body = escape(code, quote=False)
    if name:
        try:
            lexer = get_lexer_by_name(name, stripnl=False)
        except ClassNotFound:
            pass
        else:
            body = highlight(code, lexer, _FORMATTER)
    lang_attr = f' data-lang="{escape(name)}"' if name else ""
    return f'<pre class="hl"{lang_attr}><code>{body}</code></pre>\n'


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image becomes a link to it, labelled with its alt text."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}">{escape(alt)}</a>'


def _render_cell_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Table cells: alignment as a class, since the CSP blocks ``style`` attributes."""
    token = tokens[idx]
    style = token.attrGet("style")
    if style is not None:
        token.attrs.pop("style", None)
        align = _ALIGN_CLASSES.get(str(style).replace(" ", ""))
        if align:
            token.attrSet("class", align)
    return self.renderToken(tokens, idx, options, env)


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight_code})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell_open)
    md.add_render_rule("td_open", _render_cell_open)
    return md


_PARSER = _build_parser()


def _render(text: str) -> str:
    return _CLEANER.clean(_PARSER.render(text))


_render_cached = lru_cache(maxsize=512)(_render)


def render_markdown(text: str) -> str:
    """Render untrusted markdown to sanitized HTML (safe to insert with ``innerHTML``)."""
    if not text:
        return ""
    if len(text) <= CACHE_MAX_CHARS:
        return _render_cached(text)
    return _render(text)


def pygments_css(style: str, selector: str = ".hl") -> str:
    """The highlighting rules of one Pygments style (run once to write the block in ``web/app.css``)."""
    return str(HtmlFormatter(style=style).get_style_defs(selector))
