"""`python -m qbo_emulator --port 8300 ...`"""

import sys

from qbo_emulator.cli import main

sys.exit(main())
