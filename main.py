"""Run the GeoQuiz app: ``python main.py [PROJECT]`` (``make run`` opens the demo project)."""

import sys

from ui.app import main

if __name__ == "__main__":
    sys.exit(main())
