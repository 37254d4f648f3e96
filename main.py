"""ChannelDesk entry point: ``python main.py`` opens the console; ``python main.py
COMMAND ...`` runs a command headless (see ``python main.py COMMAND --help``)."""

import sys
from collections.abc import Sequence

# Options that take a value, so their value is not mistaken for a command name.
_VALUE_OPTIONS = frozenset({"--profile", "--data-dir", "--config"})


def _command_index(argv: Sequence[str]) -> int | None:
    """Where the first positional argument (the command) is, or ``None``."""
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return index
    return None


def main(argv: Sequence[str]) -> int:
    """No command (or ``gui``) opens the console; any other command goes to the CLI."""
    index = _command_index(argv)
    if index is None or argv[index] == "gui":
        # Imported here: the headless commands never load Qt.
        from gui.app import main as gui_main

        rest = list(argv) if index is None else [*argv[:index], *argv[index + 1 :]]
        return gui_main(rest)
    from service.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
