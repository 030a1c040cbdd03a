"""render_markdown: markdown features survive, anything that could run code or load a foreign resource
does not."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from botport.render import CACHE_MAX_CHARS, pygments_css, render_markdown


class _ElementCollector(HTMLParser):
    """The elements and attributes a browser would build from the HTML (text is not elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(attrs)


def parse(html: str) -> _ElementCollector:
    collector = _ElementCollector()
    collector.feed(html)
    collector.close()
    return collector


def tags_of(html: str) -> set[str]:
    return parse(html).tags


def attributes_of(html: str) -> dict[str, str | None]:
    return parse(html).attributes


def test_empty_text_renders_nothing() -> None:
    assert render_markdown("") == ""


def test_basic_markdown() -> None:
    html = render_markdown("# Title\n\nSome **bold**, *em*, `code` and ~~gone~~.\n\n- one\n- two\n\n> quote")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<code>code</code>" in html
    assert "<s>gone</s>" in html
    assert "<li>one</li>" in html
    assert "<blockquote>" in html


def test_ordered_list_keeps_its_start() -> None:
    assert '<ol start="3">' in render_markdown("3. three\n4. four")


def test_chinese_text_is_kept_verbatim() -> None:
    html = render_markdown("你好，**世界**！这是一个测试。\n\n| 名称 | 数量 |\n|---|---|\n| 苹果 | 3 |")
    assert "你好，<strong>世界</strong>！这是一个测试。" in html
    assert "<td>苹果</td>" in html


def test_script_tag_is_text() -> None:
    html = render_markdown("hello <script>alert(1)</script> world")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_raw_html_block_is_text() -> None:
    html = render_markdown('<div onclick="x()">hi</div>\n\n<iframe src="https://evil.example"></iframe>')
    assert tags_of(html) == {"p", "a"}  # the text's bare https:// URL is linked, nothing else is markup
    assert "onclick" not in attributes_of(html) and "src" not in attributes_of(html)


def test_event_handler_attributes_never_reach_the_dom() -> None:
    html = render_markdown(
        '<img src=x onerror="alert(1)"> and <a href="https://a.example" onmouseover=x>a</a>'
    )
    assert "img" not in tags_of(html)
    assert not any(name.startswith("on") for name in attributes_of(html))


def test_javascript_links_are_not_links() -> None:
    for text in (
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](java\tscript:alert(1))",
        "<javascript:alert(1)>",
        "[click](vbscript:msgbox(1))",
    ):
        html = render_markdown(text)
        assert "href=" not in html, text


def test_data_urls_are_dropped() -> None:
    html = render_markdown("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")
    assert "href" not in attributes_of(html)
    html = render_markdown("![pixel](data:image/png;base64,iVBORw0KGgo=)")
    assert "img" not in tags_of(html)
    assert "href" not in attributes_of(html) and "src" not in attributes_of(html)
    assert "pixel" in html


def test_external_images_become_links() -> None:
    html = render_markdown("![a cat](https://images.example/cat.png)")
    assert "<img" not in html
    assert (
        '<a href="https://images.example/cat.png" target="_blank" rel="noopener noreferrer">a cat</a>' in html
    )


def test_links_open_in_a_new_tab_without_referrer() -> None:
    html = render_markdown("[docs](https://example.com/docs?a=1&b=2) and <mailto:someone@example.com>")
    assert (
        '<a href="https://example.com/docs?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">docs</a>'
        in html
    )
    assert 'href="mailto:someone@example.com"' in html


@pytest.mark.parametrize("url", ["/api/conversations", "ftp://example.com/x", "file:///etc/passwd"])
def test_only_absolute_http_https_mailto_urls(url: str) -> None:
    assert "href=" not in render_markdown(f"[x]({url})")


def test_fenced_code_is_highlighted_with_classes() -> None:
    html = render_markdown('```python\ndef greet(name):\n    return f"hi {name}"\n```')
    assert '<pre class="hl" data-lang="python"><code>' in html
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">greet</span>' in html
    assert "style=" not in html


def test_unknown_language_and_plain_fences_are_escaped_text() -> None:
    html = render_markdown("```no-such-language\n<b>x</b> & y\n```\n\n```\n<i>z</i>\n```")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in html
    assert "&lt;i&gt;z&lt;/i&gt;" in html
    assert "<b>" not in html and "<i>" not in html


def test_code_language_cannot_inject_attributes() -> None:
    html = render_markdown('```python" onmouseover="alert(1)\nx = 1\n```')
    assert "onmouseover" not in attributes_of(html)


def test_tables_with_alignment_as_classes() -> None:
    html = render_markdown("| left | mid | right |\n|:--|:-:|--:|\n| a | b | c |")
    assert '<th class="al-left">left</th>' in html
    assert '<th class="al-center">mid</th>' in html
    assert '<td class="al-right">c</td>' in html
    assert "style=" not in html


def test_unlisted_classes_are_removed() -> None:
    # Only the renderer itself produces classes; markdown cannot smuggle one in.
    html = render_markdown('```python\nx = "<span class=\\"evil\\">"\n```')
    assert 'class="evil"' not in html


def test_results_are_cached_and_big_texts_still_render() -> None:
    text = "cached *once*"
    assert render_markdown(text) is render_markdown(text)
    big = "word " * (CACHE_MAX_CHARS // 4)
    assert render_markdown(big).startswith("<p>word word")


def test_pygments_css_uses_classes_under_the_selector() -> None:
    css = pygments_css("default")
    assert ".hl .k " in css
