"""`python -m server` is the `stepstone` command."""

from server.cli.main import main

main()
