"""``python -m autoenhance_nb.desk``: the same as ``autoenhance-desk``."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
