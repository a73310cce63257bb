"""A session window's result as the session report names it (`key`,
`window_start`, `window_end` become `user`, `start`, `end`); the list of
pages is read and written as a list column."""

from dataclasses import dataclass

import weir


@dataclass
class Window:
    key: str
    window_start: int
    window_end: int
    clicks: int
    pages: list[str]


@dataclass
class Session:
    user: str
    start: int
    end: int
    clicks: int
    pages: list[str]


@weir.map
def rename(w: Window) -> Session:
    return Session(w.key, w.window_start, w.window_end, w.clicks, w.pages)
