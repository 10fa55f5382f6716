"""`stepstone package preview`: what it serves, and where it listens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server.cli import preview as command
from server.cli.main import cli
from server.web.preview.app import preview_from_environment
from tests.server.web.preview.folder import write_preview_course


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the command hands to uvicorn, instead of serving."""
    seen: dict[str, Any] = {}

    def run(app: str, **options: Any) -> None:
        seen.update(options, app=app, folder=os.environ[command.FOLDER_VARIABLE])

    monkeypatch.setattr("server.cli.preview.uvicorn.run", run)
    # Recorded, so that what the command sets is undone after the test.
    monkeypatch.setenv(command.FOLDER_VARIABLE, "")
    return seen


def test_it_serves_the_folder_on_this_computer_only_by_default(
    runner: CliRunner, tmp_path: Path, served: dict[str, Any]
) -> None:
    folder = write_preview_course(tmp_path / "course")
    result = runner.invoke(cli, ["package", "preview", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 8100
    assert "http://127.0.0.1:8100/" in result.output
    assert "Warning" not in result.output
    # The factory uvicorn calls builds the preview of that folder.
    assert served["app"] == command.APP_FACTORY and served["factory"] is True
    assert os.environ[command.FOLDER_VARIABLE] == str(folder.resolve())
    with TestClient(preview_from_environment()) as client:
        assert "Test course" in client.get("/").text


def test_another_address_is_allowed_with_a_warning(
    runner: CliRunner, tmp_path: Path, served: dict[str, Any]
) -> None:
    folder = write_preview_course(tmp_path / "course")
    result = runner.invoke(cli, ["package", "preview", str(folder), "--host", "192.0.2.10"])
    assert result.exit_code == 0
    assert served["host"] == "192.0.2.10"
    assert "anyone who can reach this computer can open the preview" in result.output


def test_a_folder_that_is_not_there_is_refused(
    runner: CliRunner, tmp_path: Path, served: dict[str, Any]
) -> None:
    result = runner.invoke(cli, ["package", "preview", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert served == {}
