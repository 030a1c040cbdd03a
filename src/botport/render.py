"""Markdown to safe HTML for the ``html`` field of assistant messages.

The answer's markdown comes from a bot, and a bot repeats what users type, so its output is untrusted.
Three layers, each simple on its own:

1. markdown-it-py (CommonMark + tables + strikethrough, bare ``http(s)://`` URLs linked, task lists,
   footnotes, ``$math$``) with raw HTML *disabled*: ``<script>`` in the markdown stays text. Images
   become plain links (the page's CSP allows no image from another origin, and a tracking pixel
   should not load silently); table alignment becomes a class, not a ``style`` attribute (the CSP
   forbids inline styles). Math becomes MathML (latex2mathml; Chromium draws MathML Core natively),
   bad LaTeX stays code. Footnote ids carry a hash of the text, so that two answers
   on one page never share an id.
2. Pygments highlights fenced code with CSS classes (``.hl .k`` ...; the page ships the stylesheet).
3. nh3 (ammonia) cleans the result with an allow-list of tags, attributes, classes and URL schemes,
   and adds ``rel="noopener noreferrer"`` to links. Relative URLs are dropped except the footnotes'
   own ``#fn-<hash>-<n>`` anchors; ids other than those are dropped; ``<input>`` is always a disabled
   checkbox. latex2mathml copies ``\\text{...}`` and ``\\href`` verbatim, so its output is as
   untrusted as the markdown: only the MathML elements and presentation attributes it needs pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import Any

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

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

MATH_MAX_CHARS = 2_000
"""Longer formulas are shown as code, not converted (latex2mathml is recursive and not fast)."""

# The MathML elements latex2mathml writes (no maction/annotation-xml/semantics: never needed, and
# annotation-xml is where HTML and MathML parsing disagree), and their presentation attributes.
_MATH_TAGS = {
    "math", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac",
    "msqrt", "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
    "mphantom", "menclose",
}  # fmt: skip
_MATH_ATTRIBUTES = {
    "accent", "columnspacing", "displaystyle", "fence", "form", "height", "linethickness", "lspace",
    "mathsize", "mathvariant", "maxsize", "minsize", "movablelimits", "notation", "rowspacing",
    "rspace", "scriptlevel", "separator", "stretchy", "voffset", "width",
}  # fmt: skip

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
    "sup", "section", "input",
} | _MATH_TAGS  # fmt: skip

_FOOTNOTE_ID = re.compile(r"fn(?:ref)?-[0-9a-f]{12}-[0-9]{1,4}(?::[0-9]{1,4})?")
_ABSOLUTE_URL = re.compile(r"(?:https?|mailto):", re.IGNORECASE)


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    """What the allow-list cannot say: which ids and relative links may stay (nh3 has already
    dropped URLs with other schemes)."""
    if attribute == "id":
        return value if _FOOTNOTE_ID.fullmatch(value) else None
    if attribute == "href":
        if _ABSOLUTE_URL.match(value):
            return value
        return value if value.startswith("#") and _FOOTNOTE_ID.fullmatch(value[1:]) else None
    if attribute == "target":
        return "_blank"
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={
        "a": {"href", "title", "id", "target"},
        "ol": {"start"},
        "pre": {"data-lang"},
        "li": {"id"},
        "sup": {"id"},
        "input": {"checked"},
        "math": {"display"},
        **{tag: _MATH_ATTRIBUTES for tag in _MATH_TAGS - {"math"}},
    },
    attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto"},
    url_relative="pass_through",  # _filter_attribute keeps only the footnotes' own #anchors
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"input": {"type": "checkbox", "disabled": ""}},
    allowed_classes={
        "pre": {"hl"},
        "span": _TOKEN_CLASSES | {"math", "math-display"},
        "code": {"math-error"},
        "th": set(_ALIGN_CLASSES.values()),
        "td": set(_ALIGN_CLASSES.values()),
        "ul": {"contains-task-list"},
        "li": {"task-list-item", "footnote-item"},
        "input": {"task-list-item-checkbox"},
        "sup": {"footnote-ref"},
        "a": {"footnote-backref"},
        "hr": {"footnotes-sep"},
        "section": {"footnotes"},
        "ol": {"footnotes-list"},
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
    return f'<a href="{escape(src)}" target="_blank">{escape(alt)}</a>'


def _render_link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Links to other pages open in a new tab; the footnotes' ``#`` links stay on the page."""
    token = tokens[idx]
    if not str(token.attrGet("href") or "").startswith("#"):
        token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _render_math(latex: str, display: bool) -> str:
    """One formula as MathML; what latex2mathml cannot read (or too long a formula) stays code."""
    mathml = ""
    if len(latex) <= MATH_MAX_CHARS:
        try:
            mathml = latex_to_mathml(latex, display="block" if display else "inline")
        except Exception:  # any LaTeX the converter chokes on is shown, never raised
            mathml = ""
    if not mathml:
        return f'<code class="math-error">{escape(latex, quote=False)}</code>'
    return f'<span class="{"math-display" if display else "math"}">{mathml}</span>'


def _math_rule(display: bool) -> Any:
    def rule(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        html = _render_math(str(tokens[idx].content).strip(), display)
        return f"<p>{html}</p>\n" if tokens[idx].block else html

    return rule


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
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight_code, "linkify": True})
    md.enable(["table", "strikethrough", "linkify"])
    # Only URLs with a scheme: "render.py" is a file name, not Paraguay; "//host" would be relative.
    linkify = md.linkify
    assert linkify is not None  # set by the "linkify" option (needs linkify-it-py)
    linkify.set({"fuzzy_link": False}).add("//", None)
    # "$5 and $10" stays text: inline math may neither start nor end beside a space or a digit.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    tasklists_plugin(md)  # disabled checkboxes
    footnote_plugin(md)
    for name, display in (("math_inline", False), ("math_inline_double", True), ("math_block", True)):
        md.add_render_rule(name, _math_rule(display))
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell_open)
    md.add_render_rule("td_open", _render_cell_open)
    return md


_PARSER = _build_parser()


def _render(text: str) -> str:
    # Footnote ids become fn-<hash>-1: unique per answer, and the same for the same text (cacheable).
    doc_id = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    return _CLEANER.clean(_PARSER.render(text, {"docId": doc_id}))


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
