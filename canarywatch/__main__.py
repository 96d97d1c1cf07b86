"""`python -m canarywatch` is the `canarywatch` command."""

from __future__ import annotations

import sys

from canarywatch.cli import main

sys.exit(main())
