import sys

from geoquiz.cli import main

sys.exit(main())
