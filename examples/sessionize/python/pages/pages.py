"""The session summary in Python over typed columns: per session window,
the clicks and the pages visited in event-time order (`pages` is a list
column: `list[str]`)."""

from dataclasses import dataclass

import weir


@dataclass
class Click:
    ts: int
    page: str


@dataclass
class Pages:
    clicks: int
    pages: list[str]


@weir.aggregate
class SessionPages:
    def create(self):
        return []                       # (event time, page) of every click

    def add(self, acc, click: Click):
        acc.append((click.ts, click.page))

    def merge(self, a, b):
        return a + b

    def finish(self, acc, key: bytes, start: int, end: int) -> Pages:
        # sorted() is stable: clicks with equal times keep their arrival order.
        acc = sorted(acc, key=lambda c: c[0])
        return Pages(len(acc), [page for _, page in acc])
