"""``python -m zava`` runs the CLI."""

from zava.cli import main

main()
