"""A strict reading of a report page with ``html.parser``: what it holds, what it fetches."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base",
        "embed", "param", "track"}
# SVG elements the page writes self-closed (``<line/>``): foreign content allows it.
SELF_CLOSED = {"line", "rect", "circle", "polyline", "path"}
FETCHING = {"src", "href", "srcset", "action", "formaction", "data", "poster", "xlink:href"}


@dataclass
class Page(HTMLParser):
    """Tags, texts, column names (``<h3 class="name">``) and problems of one page.

    ``problems`` is empty when every element is closed in order.
    """

    stack: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    _heading: list[str] | None = None

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "h3" and dict(attrs).get("class") == "name":
            self._heading = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID | SELF_CLOSED:
            self.problems.append(f"<{tag}/> is not a void or SVG element")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.problems.append(f"</{tag}> closes a void element")
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()
        if tag == "h3" and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._heading is not None:
            self._heading.append(data)


def read(html: str) -> Page:
    """The page parsed; unclosed elements are added to its problems."""
    page = Page()
    page.feed(html)
    page.close()
    page.problems += [f"<{tag}> is never closed" for tag in page.stack]
    return page


def outside_references(page: Page) -> list[str]:
    """Attributes that would fetch something or leave the page (links to ``#`` are fine)."""
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in FETCHING and not (name == "href" and (value or "").startswith("#")):
                found.append(f"<{tag} {name}={value!r}>")
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...> (an event handler)")
        if tag in ("script", "link", "iframe", "object", "embed", "img", "image", "use"):
            found.append(f"<{tag}>")
    return found
