"""Driving the console from outside in the UI benchmarks: wait for what the screen shows, time frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

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
