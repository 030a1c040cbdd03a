"""render_markdown's richer features (math as MathML, bare URLs, task lists, footnotes): each renders,
and each one's hostile inputs come out inert through the same sanitiser."""

from __future__ import annotations

import re

import pytest

from botport.render import MATH_MAX_CHARS, render_markdown
from test_render import attributes_of, parse


def assert_inert(html: str) -> None:
    """No script, no event handler, no style, no javascript: URL, no element that loads anything."""
    collector = parse(html)
    assert not collector.tags & {"script", "style", "img", "iframe", "object", "embed", "svg", "form"}
    assert not [name for name in collector.attributes if name.startswith("on") or name in {"style", "src"}]
    assert "javascript:" not in " ".join(str(value).lower() for value in collector.attributes.values())
    assert not re.search(r"<[^>]*\son\w+=", html)


def test_inline_and_display_math_become_mathml() -> None:
    html = render_markdown("Euler: $e^{i\\pi}+1=0$\n\n$$\n\\frac{a}{b}\n$$")
    assert '<span class="math"><math display="inline"><mrow><msup><mi>e</mi>' in html
    assert '<span class="math-display"><math display="block"><mrow><mfrac>' in html
    assert "xmlns" not in html  # the HTML parser puts <math> in its namespace anyway


@pytest.mark.parametrize(
    "text", ["It costs $5 and $10.", "from $5-$10 each", "pay $ 5 or $ 10 $", "US$5 vs $20."]
)
def test_prices_stay_text(text: str) -> None:
    html = render_markdown(text)
    assert "math" not in html
    assert text.replace("$", "") in html.replace("$", "")


def test_bad_or_huge_latex_is_shown_as_code() -> None:
    assert '<code class="math-error">\\frac{</code>' in render_markdown("$\\frac{$")
    huge = "x+" * MATH_MAX_CHARS + "x"
    assert "<math" not in render_markdown(f"${huge}$")


@pytest.mark.parametrize(
    "latex",
    [
        r"\href{javascript:alert(1)}{x}",  # latex2mathml writes href="javascript:..." on an mrow
        r"<img src=x onerror=alert(1)>",  # split into <mi>s by latex2mathml, never markup
        r"\text{<img src=x onerror=alert(1)><script>alert(1)</script>}",  # \text is copied raw
        r"\text{</mtext></math><img src=x onerror=alert(1)>}",  # breaking out of the math element
        r"\text{<style>*{}</style><a href='javascript:alert(1)'>x</a>}",
        r"\style{background:url(https://evil.example/x)}{x}",  # style attribute
        r"\unicode{x3C}script\unicode{x3E}alert(1)",  # entities decode to text, not tags
        r"\color{red}{x} \mathbin{\href{data:text/html,x}{y}}",
    ],
)
def test_hostile_latex_is_inert(latex: str) -> None:
    for text in (f"${latex}$", f"$$\n{latex}\n$$"):
        html = render_markdown(text)
        assert_inert(html)
        assert "href" not in attributes_of(html)


def test_mathml_keeps_only_presentation_attributes() -> None:
    html = render_markdown(r"$\left(\hat{x}\right) \, \color{red}{y}$")
    assert 'stretchy="true"' in html and 'accent="true"' in html and 'width="0.167em"' in html
    assert "mathcolor" not in html and "mathbackground" not in html


def test_bare_urls_are_links_like_the_others() -> None:
    html = render_markdown("see https://example.com/a?b=1 and mail a@example.com")
    assert (
        '<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">'
        "https://example.com/a?b=1</a>" in html
    )
    assert 'href="mailto:a@example.com"' in html
    # Names that merely look like hosts, and scheme-relative URLs, stay text.
    assert "href" not in attributes_of(render_markdown("edit render.py or //evil.example/x"))


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "go to javascript://example.com/%0aalert(1)",
        'http://a.com/"onmouseover=alert(1) x',
        "http://a.com/'onmouseover='alert(1)' x",
        "http://a.com/<script>alert(1)</script>",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_hostile_bare_urls_are_inert(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    for name, value in parse(html).attributes.items():
        assert name != "onmouseover"
        if name == "href":
            assert str(value).startswith("http://a.com/")


def test_task_lists_are_disabled_checkboxes() -> None:
    html = render_markdown("- [ ] todo\n- [x] done\n- plain")
    assert '<ul class="contains-task-list">' in html
    assert html.count('type="checkbox"') == 2 and html.count('disabled=""') == 2
    assert html.count(" checked=") == 1


def test_task_list_text_with_html_is_inert() -> None:
    html = render_markdown('- [ ] <input type="text" onfocus=alert(1) autofocus>\n- [x] <b onclick=x>b</b>')
    assert_inert(html)
    assert html.count("<input") == 2  # only the two checkboxes; the typed input is text
    assert "autofocus" not in attributes_of(html)


def test_footnotes_link_within_the_answer_with_per_text_ids() -> None:
    first = render_markdown("A claim.[^1]\n\n[^1]: The source.")
    second = render_markdown("Another claim.[^1]\n\n[^1]: Another source.")
    ids = re.findall(r'id="(fn-[0-9a-f]{12}-1)"', first)
    assert len(ids) == 1
    assert f'<a href="#{ids[0]}" id="fnref-' in first  # same-page link: no target="_blank"
    assert 'target="_blank"' not in first
    assert ids[0] not in second  # two answers on one page never share an id


@pytest.mark.parametrize(
    "text",
    [
        'x[^a" onclick="alert(1)]\n\n[^a" onclick="alert(1)]: note',
        "x[^<img src=x onerror=alert(1)>]\n\n[^<img src=x onerror=alert(1)>]: <script>alert(1)</script>",
        "x[^1]\n\n[^1]: [link](javascript:alert(1)) and [other](#top) and [self](#fn-000000000000-1)",
        "x^[inline <svg onload=alert(1)>]",
    ],
)
def test_hostile_footnotes_are_inert(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    for name, value in parse(html).attributes.items():
        if name == "id":
            assert re.fullmatch(r"fn(ref)?-[0-9a-f]{12}-\d+(:\d+)?", str(value))
        if name == "href":
            assert re.fullmatch(r"#fn(ref)?-[0-9a-f]{12}-\d+(:\d+)?", str(value))


def test_markdown_cannot_plant_ids_or_relative_links() -> None:
    html = render_markdown("[a](#top) [b](/api/conversations) [c](./x)")
    assert "href" not in attributes_of(html) and "id" not in attributes_of(html)
