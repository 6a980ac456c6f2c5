"""What a browser would build from an HTML fragment: its elements and attributes."""

from html.parser import HTMLParser


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def elements(fragment: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser.elements


def assert_harmless(fragment: str) -> None:
    """No script, style, image or frame; no event handler; links only to http(s)/mailto,
    each with rel="noopener nofollow"."""
    for tag, attrs in elements(fragment):
        assert tag not in {"script", "style", "img", "iframe", "object", "embed", "svg", "form"}
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert "style" not in attrs or attrs["style"].startswith("text-align")
        if tag == "a":
            assert attrs["href"].split(":", 1)[0] in {"http", "https", "mailto"}, attrs
            assert attrs["rel"] == "noopener nofollow" and attrs["target"] == "_blank"
