"""``python -m clone`` runs the command-line interface."""

from clone.cli import main

main()
