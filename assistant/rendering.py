"""Markdown from the model → HTML that is safe to put in a page.

markdown-it-py (CommonMark, plus tables and strikethrough) with raw HTML turned off,
so any tag the model writes comes out as text; fenced code highlighted with Pygments
(``<pre class="hl"><code class="language-x">`` with Pygments' short token classes,
coloured in ``static/css/app.css`` for both themes); then nh3 keeps only the tags and
attributes listed here: no scripts, no event handlers, no images, links only to
http(s) and mailto, each with ``rel="noopener nofollow"`` and opening in a new tab.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
    "pre": {"class"},
    "span": {"class"},
    "td": {"style"},
    "th": {"style"},
}
LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,40}")

_formatter = HtmlFormatter(nowrap=True)
_cleaner = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags={"script", "style"},
    attributes=ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    filter_style_properties={"text-align"},
    strip_comments=True,
)


def _highlight(code: str, name: str, _attrs: str) -> str:
    """A fenced block as ``<pre class="hl">``; plain (escaped) when the language is unknown."""
    language = name if LANGUAGE.fullmatch(name or "") else ""
    body = None
    if language:
        try:
            lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
        except ClassNotFound:
            lexer = None
        if lexer is not None:
            body = highlight(code, lexer, _formatter)
    if body is None:
        body = html.escape(code)
    code_class = f' class="language-{html.escape(language.lower())}"' if language else ""
    return f'<pre class="hl"><code{code_class}>{body}</code></pre>\n'


_markdown = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight}
).enable(["table", "strikethrough"])


def markdown_html(markdown: str) -> str:
    """The model's Markdown as sanitized HTML."""
    return _cleaner.clean(_markdown.render(markdown))
