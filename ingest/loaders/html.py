"""HTML pages (exported help-centre articles): headings, paragraphs, lists and tables; scripts dropped."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.text import decode

_SKIP = {"script", "style", "noscript", "template", "head", "nav", "footer"}
_BLOCK = {"p", "div", "li", "br", "section", "article", "blockquote", "pre", "dd", "dt"}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, str]] = []
        self.title: str | None = None
        self._skip = 0
        self._text: list[str] = []
        self._heading: int | None = None
        self._in_title = False
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        self._text = []
        if text:
            if self.blocks and self.blocks[-1].kind == "text" and self.blocks[-1].headings == self._path():
                self.blocks[-1].text += "\n" + text
            else:
                self.blocks.append(Block("text", text, self._path()))

    def _path(self) -> list[str]:
        return [h for _, h in self.headings]

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush()
            self._heading = int(tag[1])
        elif tag == "table":
            self._flush()
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self._heading:
            text = " ".join("".join(self._text).split())
            self._text = []
            level = self._heading
            self._heading = None
            if text:
                if level == 1 and self.title is None:
                    self.title = text
                else:
                    self.headings[:] = [(lv, h) for lv, h in self.headings if lv < level] + [(level, text)]
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            rows = [" | ".join(r) for r in self._rows if any(r)]
            self._rows = None
            if rows:
                self.blocks.append(Block("table", "\n".join(rows[1:]) or rows[0], self._path(), table_header=rows[0]))
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data):
        if self._in_title:
            self.title = self.title or data.strip() or None
        elif self._skip:
            return
        elif self._cell is not None:
            self._cell.append(data)
        elif self._rows is None:
            self._text.append(data)


def parse_html(text: str, fallback_title: str) -> LoadedDocument:
    parser = _Parser()
    parser.feed(text)
    parser.close()
    parser._flush()
    return LoadedDocument(title=parser.title or fallback_title, blocks=parser.blocks)


def load_html(path: Path) -> LoadedDocument:
    return parse_html(decode(path.read_bytes(), path.name), path.stem)
