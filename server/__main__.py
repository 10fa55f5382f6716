"""`python -m server` is the `stepstone` command."""

from server.cli import main

main()
