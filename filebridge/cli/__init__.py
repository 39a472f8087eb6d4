"""Command-line interface: click commands, rich output for people, --json for programs."""
