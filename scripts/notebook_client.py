"""Executing a lesson with nbclient, without the 300-s stall of a widget cell (jupyter/nbclient#312).

nbclient waits for a cell's ``execute_reply`` with one ``shell_channel.get_msg(timeout=T)`` call,
T being the cell timeout. After a cell that opens ipywidgets comms, that call sometimes does not
wake up when the reply arrives, only when T runs out, and then returns the reply as if nothing
happened (jupyter/nbclient#312; the fix proposed there, #311, is not merged). The lesson site's
build saw exactly this: once per build, one region lesson's relatedness-slider cell took 300.0 s,
the cell timeout, and then passed.

:func:`notebook_client` returns an ``nbclient.NotebookClient`` whose shell channel is polled in
slices of :data:`SHELL_POLL_SLICE` seconds up to the same deadline. A reply that the socket already
holds is seen at the next slice, so a missed wake-up costs at most a second, while a cell that
really runs past its timeout still fails as before. Used by ``scripts/build_site.py``,
``tests/test_notebooks.py`` and ``benchmarks/bench_notebooks.py``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat

#: seconds of one wait for the shell reply; the cell timeout is the sum of the slices
SHELL_POLL_SLICE = 1.0


def sliced_get_msg(
    get_msg: Callable[..., Awaitable[dict[str, Any]]], slice_seconds: float = SHELL_POLL_SLICE
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """``get_msg(timeout=T)`` as repeated waits of at most ``slice_seconds`` until T (``None``: forever).

    Raises ``queue.Empty`` when T passes without a message, as the wrapped call does.
    """

    async def get_msg_in_slices(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = slice_seconds if deadline is None else min(slice_seconds, deadline - time.monotonic())
            try:
                return await get_msg(timeout=max(0.0, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get_msg_in_slices


def notebook_client(nb: nbformat.NotebookNode, *, cwd: str | Path, timeout: int, **options: Any) -> Any:
    """An ``nbclient.NotebookClient`` for a python3 kernel run in ``cwd``, its shell replies polled in slices.

    Args:
        nb: the notebook (executed in place).
        cwd: the kernel's working folder.
        timeout: seconds one cell may run.
        **options: other ``NotebookClient`` options (hooks such as ``on_cell_executed``); an
            ``on_notebook_start`` hook runs after the channel is patched.
    """
    from nbclient import NotebookClient

    user_start = options.pop("on_notebook_start", None)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, **options
    )

    def patch_channel(notebook: nbformat.NotebookNode) -> Any:
        channel = client.kc.shell_channel
        channel.get_msg = sliced_get_msg(channel.get_msg)
        return user_start(notebook=notebook) if user_start is not None else None

    client.on_notebook_start = patch_channel
    return client
