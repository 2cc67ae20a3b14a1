"""``python -m pyimapd``: the same as the ``pyimapd`` console script."""

from pyimapd.cli import main

raise SystemExit(main())
