"""``python -m streamlabels.cli``: the ``streamlabels`` command."""

import sys

from streamlabels.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
