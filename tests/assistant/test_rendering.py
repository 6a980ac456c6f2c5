"""The model's Markdown becomes HTML that is safe in a page, with highlighted code."""

import pytest

from assistant.rendering import markdown_html
from tests.assistant.html_check import assert_harmless, elements

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)" onclick="x()">raw link</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "![img](https://tracker.example/pixel.png)",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox) [y](file:///etc/passwd)",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<div style="position:fixed">x</div>',
    "```html\n<script>alert(1)</script>\n```",
    '<svg onload="alert(1)"></svg>',
    "<!-- comment --><b onmouseover=alert(1)>b</b>",
]


@pytest.mark.parametrize("markdown", HOSTILE)
def test_hostile_markdown_renders_harmless(markdown):
    html = markdown_html(markdown)
    assert_harmless(html)
    assert "<script" not in html.lower()


def test_links_open_in_a_new_tab_without_opener_or_follow():
    html = markdown_html("See [the docs](https://docs.python.org/3/) or <https://example.test>.")
    links = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert [a["href"] for a in links] == ["https://docs.python.org/3/", "https://example.test"]
    assert all(a["rel"] == "noopener nofollow" and a["target"] == "_blank" for a in links)


def test_fenced_code_is_highlighted_with_token_classes():
    html = markdown_html("```python\ndef f(x):\n    return x  # twice\n```")
    assert html.startswith('<pre class="hl"><code class="language-python">')
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert '<span class="c1"># twice</span>' in html


def test_code_in_an_unknown_or_missing_language_is_escaped_plain_text():
    for fence in ("```nosuchlanguage", "```", '```"><script>'):
        html = markdown_html(f"{fence}\n<b>if x < 1</b>\n```")
        assert "&lt;b&gt;if x &lt; 1&lt;/b&gt;" in html
        assert "<span" not in html
        assert_harmless(html)


def test_ordinary_markdown_survives():
    html = markdown_html(
        "## Steps\n\n1. **Read** the *error*\n2. ~~guess~~ fix\n\n> quoted\n\n"
        "| a | b |\n|:--|--:|\n| `x` | 2 |"
    )
    tags = [tag for tag, _ in elements(html)]
    for tag in ("h2", "ol", "li", "strong", "em", "s", "blockquote", "table", "th", "td", "code"):
        assert tag in tags, tag
    assert '<th style="text-align:left">a</th>' in html
