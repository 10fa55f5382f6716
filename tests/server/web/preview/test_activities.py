"""The preview's activities and writing tasks, over HTTP: an app framed from the other
loopback name under the sandbox's policy and reaching only its own files, SCORM and H5P
results kept in memory, and a writing task that shows what a learner sees but stores
nothing."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.web import h5pplayer
from server.web.preview.app import create_preview_app
from tests.server.web.preview.folder import COURSE_ID, lesson_url, write_activity_course

PAGE = "http://127.0.0.1:8100"
SANDBOX = "http://localhost:8100"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_activity_course(tmp_path / "course")


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_preview_app(folder), base_url=PAGE) as client:
        yield client


def frame_src(html: str) -> str:
    found = re.search(r'<iframe id="app-frame"[^>]* src="([^"]+)" sandbox="allow-scripts"', html)
    assert found is not None, "no sandboxed frame on the page"
    return found.group(1).replace("&amp;", "&").replace("&#43;", "+")


def token(client: TestClient, key: str = "intro") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(lesson_url(key)).text)
    assert found is not None
    return found.group(1)


def send(client: TestClient, key: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    event = {"id": f"e-{kind}-{len(json.dumps(data))}", "type": kind, "course": COURSE_ID}
    answer = client.post(
        "/api/events",
        json={"events": [{**event, "lesson": key, "data": data}]},
        headers={"X-CSRF-Token": token(client)},
    )
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def test_an_html5_activity_runs_from_the_other_loopback_name_under_the_sandbox_policy(
    client: TestClient,
) -> None:
    page = client.get(lesson_url("counter"))
    assert page.status_code == 200
    assert "cannot open on this server" not in page.text
    assert "Press the button three times." in page.text
    src = frame_src(page.text)
    assert src.startswith(f"{SANDBOX}/sandbox/") and src.endswith("/index.html")
    assert f"frame-src {SANDBOX}" in page.headers["content-security-policy"]
    assert "js/app-bridge.js" in page.text
    assert "Well done! This activity is finished." in page.text  # what the bridge shows

    app = client.get(src)
    assert app.status_code == 200
    assert 'id="count"' in app.text
    policy = app.headers["content-security-policy"]
    prefix = src.removesuffix("index.html")
    assert "sandbox allow-scripts" in policy
    assert f"frame-ancestors {PAGE}" in policy
    assert f"connect-src {prefix}" in policy
    assert client.get(prefix + "counter.js").status_code == 200
    # Not on the page's own origin, and not under an address the preview did not sign.
    assert client.get(src.replace(SANDBOX, PAGE)).status_code == 404
    forged = re.sub(r"/sandbox/[^/]+/", "/sandbox/forged/", src)
    assert client.get(forged).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "sco.html",  # the SCORM lesson's own file, not this lesson's
        "%2e%2e/signs/sco.html",
        "..%2f..%2fcourse.yaml",
        "%2e%2e/%2e%2e/lessons/03-counter.md",
        "nothing.js",
        "__stepstone__/h5p/..%2f..%2fjs%2flearn.js",
    ],
)
def test_an_activity_reaches_only_its_own_files(client: TestClient, path: str) -> None:
    prefix = frame_src(client.get(lesson_url("counter")).text).removesuffix("index.html")
    answer = client.get(prefix + path)
    assert answer.status_code == 404
    assert answer.text == "Not found"


def test_a_scorm_package_gets_its_runtime_and_resumes_until_the_preview_stops(
    client: TestClient,
) -> None:
    page = client.get(lesson_url("signs")).text
    assert 'data-sco="item-signs" data-attempt="1" data-scorm="1.2"' in page
    src = frame_src(page)
    assert "#stepstone=" in src
    sco = client.get(src.split("#")[0])
    assert sco.status_code == 200
    assert "__stepstone__/scorm-runtime.js" in sco.text.split("</head>")[0]
    assert client.get(src.split("sco.html")[0] + "__stepstone__/scorm-runtime.js").is_success

    saved = send(
        client,
        "signs",
        "scorm",
        {
            "sco": "item-signs",
            "attempt": 1,
            "cmi": {"cmi.core.lesson_status": "incomplete", "cmi.suspend_data": "page=3"},
        },
    )
    assert saved["rejected"] == {}
    state = src_state(frame_src(client.get(lesson_url("signs")).text))
    assert state["cmi"]["cmi.suspend_data"] == "page=3"  # the next launch resumes there

    finished = send(
        client,
        "signs",
        "scorm",
        {
            "sco": "item-signs",
            "attempt": 1,
            "cmi": {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "80"},
        },
    )
    assert finished["lessons"] == {
        f"{COURSE_ID}/signs": {"status": "done", "position": 0.0, "watched": 0.0, "score": 80.0}
    }
    page = client.get(lesson_url("signs")).text
    assert "Score: 80%" in page
    assert src_state(frame_src(page))["cmi"] == {}  # a finished attempt: a new one starts
    late = send(client, "signs", "scorm", {"sco": "item-signs", "attempt": 1, "cmi": {}})
    assert list(late["rejected"].values()) == ["this attempt is finished or was never started"]


def src_state(src: str) -> dict[str, dict[str, str]]:
    packed = src.split("#stepstone=")[1]
    state: dict[str, dict[str, str]] = json.loads(
        base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
    )
    return state


def test_an_h5p_activity_plays_and_its_result_finishes_the_lesson(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h5pplayer, "installed", lambda static_dir: True)
    src = frame_src(client.get(lesson_url("ready")).text)
    assert src.endswith("/__stepstone__/h5p.html")
    assert client.get(src.removesuffix("__stepstone__/h5p.html") + "h5p.json").is_success
    statement = {
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "result": {"completion": True, "score": {"scaled": 0.5}},
    }
    result = send(client, "ready", "h5p", {"statement": statement})
    assert result["lessons"][f"{COURSE_ID}/ready"]["score"] == 50.0
    assert "Score: 50%" in client.get(lesson_url("ready")).text

    monkeypatch.setattr(h5pplayer, "installed", lambda static_dir: False)
    page = client.get(lesson_url("ready")).text
    assert "<iframe" not in page
    assert "npm ci --prefix frontend" in page


def test_off_loopback_the_page_names_the_address_where_activities_open(folder: Path) -> None:
    with TestClient(create_preview_app(folder), base_url="http://192.168.1.20:8100") as client:
        page = client.get(lesson_url("counter"))
    assert page.status_code == 200
    assert "<iframe" not in page.text
    assert "cannot open on this server" not in page.text
    assert f"http://127.0.0.1:8100{lesson_url('counter')}" in page.text
    assert "frame-src" not in page.headers["content-security-policy"]


def test_a_writing_task_shows_its_rubric_and_word_guide_and_stores_nothing(
    client: TestClient,
) -> None:
    page = client.get(lesson_url("letter")).text
    assert "Write a short letter to a boss you would like to work for." in page
    assert "Says what job and why" in page and "Names the job and a reason" in page
    assert "Aim for 5 to 60 words." in page
    assert "To pass you need 3 of 4 points." in page
    assert 'action="' + lesson_url("letter") + '/written"' in page
    assert "js/word-count.js" in page
    assert "Nothing you write is stored" in page

    url = lesson_url("letter") + "/written"
    text = "I want to cook at the diner. I like early mornings."
    saved = client.post(url, data={"csrf_token": token(client), "p-text": text, "action": "save"})
    assert saved.status_code == 200
    assert text in saved.text and "11 words" in saved.text
    assert "would now be saved as a draft" in saved.text

    sent = client.post(url, data={"csrf_token": token(client), "p-text": text, "action": "submit"})
    assert sent.status_code == 200
    assert "What you sent" in sent.text and "Your teacher has not graded it yet." in sent.text
    assert "would now be sent to the teacher. The preview keeps nothing." in sent.text

    empty = client.post(url, data={"csrf_token": token(client), "p-text": " ", "action": "submit"})
    assert empty.status_code == 400
    assert "Write your answer before you send it." in empty.text
    again = client.get(lesson_url("letter")).text
    assert text not in again and "What you sent" not in again
    assert client.get(url).url.path == lesson_url("letter")


def test_lint_problems_of_an_activity_show_with_their_file_and_line(folder: Path) -> None:
    (folder / "apps" / "counter" / "index.html").unlink()
    with TestClient(create_preview_app(folder), base_url=PAGE) as client:
        page = client.get(lesson_url("counter")).text
    assert "lessons/03-counter.md:5" in page
    assert "has no index.html" in page
