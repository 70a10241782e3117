"""Driving the console from outside in the UI benchmarks: wait for what the screen shows, time frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.app import App


async def until(condition: Callable[[], bool], poll: float = 0.0005) -> None:
    """Watch the app from outside, as a user looking at the screen would, until ``condition()`` holds."""
    while not condition():  # noqa: ASYNC110 (polling the screen is what is measured)
        await asyncio.sleep(poll)


async def frame(app: App[Any]) -> float:
    """The time of the next rendered frame."""
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(lambda: done.set_result(time.perf_counter()))
    return await done


def rows_shown(app: App[Any]) -> Callable[[], bool]:
    """A condition for :func:`until`: the main screen's work queue shows rows. When its default view (needs a
    reply) came back empty, as on a database where every customer was answered, the all-conversations view
    is asked for with its key ("5" on the list), once, as an agent would."""
    asked = False

    def shown() -> bool:
        nonlocal asked
        main: Any = getattr(app, "main_screen", None)
        if main is None or not main.is_mounted:
            return False
        queue = main.customers
        if app.screen is not main:
            return False
        if queue.entries:
            return True
        if queue.reads and not queue.reading and not asked:
            app.post_message(events.Key("5", "5"))
            asked = True
        return False

    return shown
