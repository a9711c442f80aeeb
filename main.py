"""Run the GeoQuiz app: ``python main.py [PROJECT]`` (``make run`` opens the demo project).

Before Qt is imported, :func:`ui.syslibs.check` makes sure the system libraries of Qt's platform
plugin are installed, and otherwise prints the command that installs them (instead of Qt's crash).
"""

import sys

from ui.syslibs import check

if __name__ == "__main__":
    if not check():
        sys.exit(1)
    from ui.app import main

    sys.exit(main())
