"""``python -m tracker.service``: run the sidecar in the foreground."""

import sys

from tracker.service.daemon import main

if __name__ == "__main__":
    sys.exit(main())
