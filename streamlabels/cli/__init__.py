"""The ``streamlabels`` command line: replay, datasets, report and bench (:mod:`.main`,
:mod:`.bench`), the model names they accept (:mod:`.models`), and the registry through which
installed packages such as the Kafka service add their own subcommands (:mod:`.commands`)."""

from streamlabels.cli.main import main

__all__ = ["main"]
