"""`python -m highlevel_emulator --port 8400 ...`"""

import sys

from highlevel_emulator.cli import main

sys.exit(main())
