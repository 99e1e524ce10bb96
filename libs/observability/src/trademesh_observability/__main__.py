"""Entry point: `python -m trademesh_observability generate|check`."""

import sys

from trademesh_observability.cli import main

sys.exit(main())
