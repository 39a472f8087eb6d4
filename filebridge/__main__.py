"""``python -m filebridge`` runs the CLI, like the ``filebridge`` console script."""

from filebridge.cli.main import main

main()
