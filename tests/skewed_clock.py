"""A program whose wall clock is off by some seconds, as a console on another machine would be: a tiny
preload library (C, compiled here) that shifts what ``clock_gettime``/``gettimeofday``/``time`` say about
real time by ``$SKEWED_CLOCK_SECONDS``, for a child process started with ``LD_PRELOAD``.

Why not patch the clock in the test: our own functions are never patched, and only a process whose
operating-system clock really differs shows what a console on a machine whose clock is off does. The
monotonic clocks are left alone (timeouts still work).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: The variable the library reads: whole seconds to add (negative: behind).
SKEW_VARIABLE = "SKEWED_CLOCK_SECONDS"

_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long skew(void) {
    const char *text = getenv("SKEWED_CLOCK_SECONDS");
    return text ? atol(text) : 0;
}

int clock_gettime(clockid_t clock, struct timespec *now) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int done = real(clock, now);
    if (done == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) now->tv_sec += skew();
    return done;
}

int gettimeofday(struct timeval *now, void *zone) {
    static int (*real)(struct timeval *, void *);
    if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int done = real(now, zone);
    if (done == 0 && now) now->tv_sec += skew();
    return done;
}

time_t time(time_t *out) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}
"""


def compile_library(directory: Path) -> Path | None:
    """The preload library built in ``directory``; None when this machine has no C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    source, library = directory / "skewed_clock.c", directory / "skewed_clock.so"
    source.write_text(_SOURCE, encoding="utf-8")
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source), "-ldl"],
        check=True,
        capture_output=True,
    )
    return library
