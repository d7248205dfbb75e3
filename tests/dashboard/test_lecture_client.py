"""The lecture benchmark's websocket client against the real server (``mtdl-kit dashboard``'s command line).

Not timed: two students on Explore see their own selections echoed and nothing of the other's, no
error, and no timer rerunning anything; a student's live training survives a page reload, and a
second Train while one runs is queued with its place shown (issue 19, issue 14 point 3).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from lecture_client import Board, ExploreModel, Session  # noqa: E402
from lecture_server import Server  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    srv = Server()
    srv.start()
    yield srv
    srv.stop()
    assert not srv.log_errors(), srv.log.read_text()[-3000:]


def test_two_students_see_their_own_state_and_no_error(server):
    async def scenario():
        board = Board(ExploreModel())
        a = Session(server.url, "a")
        b = Session(server.url, "b")
        for s in (a, b):
            run = await s.open(timeout=300)
            board.check(s, "open", run)
        a.set("case", 3.0)
        board.check(a, "case", await a.rerun())
        b.set("case", 7.0)
        board.check(b, "case", await b.rerun())
        b.set("task:brain:grade", False)
        board.check(b, "toggle", await b.rerun())
        a.set("explore_family", "hybrid")
        board.check(a, "family", await a.rerun())
        for s in (a, b):
            board.errors += s.errors
        fragment_reruns = a.fragment_reruns + b.fragment_reruns
        await a.close()
        await b.close()
        return board, fragment_reruns

    board, fragment_reruns = asyncio.run(scenario())
    assert not board.errors, board.errors
    assert [i.ok for i in board.interactions] == [True] * 6, [i.detail for i in board.interactions]
    assert not any(i.leak for i in board.interactions)
    assert board.states["a"]["case"] == 3 and board.states["a"]["family"] == "hybrid"
    assert board.states["b"]["case"] == 7 and "grade" not in board.states["b"]["tasks"]
    assert fragment_reruns == 0, "Explore reruns nothing on a timer"


def _state(s: Session, run_id: str | None = None) -> list[str]:
    out = []
    for text in s.texts(("markdown",)):
        m = re.search(r"\*\*Run (\w+)\*\* .* state: \*\*(\w+)\*\*", text)
        if m and (run_id is None or m.group(1) == run_id):
            out.append(m.group(2))
    return out


def test_a_second_train_is_queued_and_runs_survive_a_reload(server):
    async def scenario():
        s = Session(server.url, "trainer", fetch_media=False)
        await s.open(timeout=300)
        await s.navigate("experiment")
        submit = next(
            e.button.id for e in s.page.values() if e.WhichOneof("type") == "button" and e.button.is_form_submitter
        )
        s.set("exp_family", "parallel")
        s.set("exp_steps", 60.0)
        await s.rerun(triggers=[submit])
        s.set("exp_steps", 3.0)
        await s.rerun(triggers=[submit])  # Train again while the first run is queued or training
        texts = "\n".join(s.texts())
        second_seen = "Queued: place 1" in texts or len(_state(s)) >= 2  # queued, or training beside the first
        # both end; then the page reruns once and stops redrawing (no fragment timer left)
        both_done = await s.wait_for(lambda x: "state: **done**" in "\n".join(x.texts()) and not x._auto, 600)
        token = s.query_string
        errors = list(s.errors) + list(s.alerts)
        await s.close()
        # a reload: a new session with the page's URL (its query string holds the owner token)
        again = Session(server.url, "reloaded", query=token, fetch_media=False)
        await again.connect()
        await again.rerun(page_hash=s.pages["experiment"][0])
        after = "\n".join(again.texts())
        runs = next((t for t in again.tables() if "run" in t.columns), None)
        await again.close()
        return second_seen, both_done, token, errors, after, runs

    second_seen, both_done, token, errors, after, runs = asyncio.run(scenario())
    assert not errors, errors
    assert second_seen, "the second Train was queued (or trains beside the first), not dropped"
    assert both_done
    assert re.search(r"trainer=[0-9a-f]{32}", token), token
    assert "This session's runs" in after and "state: **done**" in after, after
    assert runs is not None and list(runs["state"]) == ["done", "done"], runs
    assert list(runs["steps"]) == ["60/60", "3/3"]


def test_a_server_that_misses_its_health_check_is_stopped_not_left_running():
    srv = Server()
    with pytest.raises(RuntimeError, match=r"did not become healthy within 1 s \(stopped"):
        srv.start(timeout=1)
    assert srv.proc is not None and srv.proc.poll() is not None, "the server process was left running"
