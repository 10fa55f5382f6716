"""The preview learner's memory of activities, and the pieces of the sandbox it shares
with the server: a SCORM lesson of two SCOs done only when both are, a new attempt after
a finished one, the app path check, the loopback origin, and a writing task's answer."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from content.format.lessondata import LessonData, ScoData, ScormData, WrittenData
from server.core.errors import ValidationError
from server.learning.access import app_asset_path
from server.learning.visibility import Lesson
from server.web.preview.learner import PreviewLearner, written_page
from server.web.sandbox import loopback_origin

TWO_SCOS = ScormData(
    version="2004",
    scos=(ScoData("one", "One", "one.html", ""), ScoData("two", "Two", "two.html", "")),
)


def scorm_lesson() -> Lesson:
    return Lesson("pack", 0, "Pack", "scorm", None, LessonData(scorm=TWO_SCOS))


def commit(sco: str, attempt: int, **cmi: str) -> dict[str, object]:
    """A SCO's report; `score_scaled` stands for ``cmi.score.scaled``."""
    names = {"score_scaled": "score.scaled"}
    values = {f"cmi.{names.get(name, name)}": value for name, value in cmi.items()}
    return {"sco": sco, "attempt": attempt, "cmi": values}


def test_a_scorm_lesson_is_done_when_every_sco_is_with_their_mean_score() -> None:
    learner, lesson = PreviewLearner(), scorm_lesson()
    assert not learner.take_scorm(lesson, commit("one", 1, location="p2", suspend_data="x"))
    assert learner.sco_states(lesson)["one"].cmi == {"cmi.location": "p2", "cmi.suspend_data": "x"}
    assert not learner.take_scorm(lesson, commit("one", 1, completion_status="completed"))
    assert learner.sco_states(lesson)["one"].attempt == 2  # finished: the next launch is new
    assert learner.sco_states(lesson)["one"].cmi == {}
    assert learner.lesson_state(lesson).status == "not_started"
    assert learner.take_scorm(lesson, commit("two", 1, success_status="passed", score_scaled="0.6"))
    state = learner.lesson_state(lesson)
    assert (state.status, state.score) == ("done", 60.0)


@pytest.mark.parametrize(
    "data",
    [
        commit("three", 1),
        commit("one", 2),
        {"sco": "one", "attempt": "1", "cmi": {}},
        {"sco": "one", "attempt": 1, "cmi": {"cmi.core.lesson_status": "passed"}},  # 1.2's
    ],
)
def test_a_scorm_report_the_server_refuses_is_refused(data: dict[str, object]) -> None:
    learner = PreviewLearner()
    with pytest.raises(ValidationError):
        learner.take_scorm(scorm_lesson(), data)
    assert learner.scos == {}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("index.html", "apps/counter/index.html"),
        ("img/star.png", "apps/counter/img/star.png"),
        ("../other/index.html", None),
        ("img/../../x", None),
        ("a//b", None),
        ("./index.html", None),
        ("img\\star.png", None),
        ("", None),
    ],
)
def test_an_app_path_stays_in_its_own_folder(path: str, found: str | None) -> None:
    assert app_asset_path("counter", path) == found


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1:8100", "http://localhost:8100"),
        ("localhost:8100", "http://127.0.0.1:8100"),
        ("192.168.1.20:8100", None),
        ("preview.example", None),
    ],
)
def test_the_sandbox_is_the_other_loopback_name(host: str, origin: str | None) -> None:
    scope = {"type": "http", "scheme": "http", "path": "/", "headers": [(b"host", host.encode())]}
    assert loopback_origin(Request(scope)) == origin


def test_a_writing_task_answer_is_shown_back_and_an_empty_one_is_not_sent() -> None:
    task = WrittenData(prompt="Write.", min_words=2)
    lesson = Lesson("letter", 0, "Letter", "written", None, LessonData(written=task))
    saved = written_page(lesson, "Dear boss,\r\nhello", send=False)
    assert (saved["writing"], saved["draft_text"], saved["draft_words"]) == (
        True,
        "Dear boss,\nhello",
        3,
    )
    sent = written_page(lesson, "Dear boss", send=True)
    assert sent["writing"] is False and sent["attempts"][0].status == "submitted"
    with pytest.raises(ValidationError, match="Write your answer"):
        written_page(lesson, "  ", send=True)
    with pytest.raises(ValidationError, match="at most 20,000"):
        written_page(lesson, "x" * 20_001, send=False)
