"""ChannelDesk entry point: ``python main.py [COMMAND ...]`` (see ``--help``)."""

import sys

from service.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
