"""``python -m kexue`` runs the command-line interface."""

import sys

from kexue.cli import main

sys.exit(main())
