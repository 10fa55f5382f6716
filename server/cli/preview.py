"""`stepstone package preview`: an author's course folder, shown in a browser as a
learner's tablet will show it, on this computer only."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click
import uvicorn

# The command line and the web app are side by side in the layers: as `serve` does, the
# command names the app's factory and hands it the folder through the environment.
APP_FACTORY = "server.web.preview.app:preview_from_environment"
FOLDER_VARIABLE = "STEPSTONE_PREVIEW_FOLDER"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command()
@click.argument("course_folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", type=int, default=8100, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep the default: the preview has no sign-in.",
)
def preview(course_folder: Path, port: int, host: str) -> None:
    """Show the course folder COURSE_FOLDER as a learner's tablet will, at
    http://127.0.0.1:8100/ (no keys, no facility data; nothing is saved).

    Every lesson kind works: quizzes can be answered, workbooks filled in (not stored),
    and the page has an English and a Spanish switch. The page reloads when a file in
    the folder changes; what `stepstone package lint` finds is listed on the page.
    Stop it with Ctrl+C.

    \b
    Examples:
      stepstone package preview courses/everyday-math
      stepstone package preview courses/everyday-math --port 8200
    """
    if not _loopback(host):
        click.echo(
            f"Warning: listening on {host}: anyone who can reach this computer can open"
            " the preview.",
            err=True,
        )
    click.echo(f"Preview of {course_folder} at http://{host}:{port}/ (stop with Ctrl+C)")
    os.environ[FOLDER_VARIABLE] = str(course_folder.resolve())
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        server_header=False,
        proxy_headers=False,
        log_level="warning",
    )
