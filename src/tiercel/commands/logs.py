"""The agent's own messages through Python's `logging`, set by Falco's keys: `log_level` (the least
severe level written), `log_stderr` (the run's error stream) and `log_syslog` (/dev/log, as Falco).

Alerts never go through here: they are the outputs' business.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from typing import IO

from tiercel.config import Config

LOGGER = "tiercel"
NOTICE = 25   # syslog's notice, between INFO and WARNING
LEVELS = {"emergency": logging.CRITICAL, "alert": logging.CRITICAL, "critical": logging.CRITICAL,
          "error": logging.ERROR, "warning": logging.WARNING, "notice": NOTICE,
          "info": logging.INFO, "debug": logging.DEBUG}


def setup_logging(cfg: Config, err: IO[str], syslog_path: str = "/dev/log") -> logging.Logger:
    """The agent's logger, its handlers replaced by what `cfg` asks for (a reload calls this again)."""
    logger = logging.getLogger(LOGGER)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(LEVELS[cfg.log_level])
    if cfg.log_stderr:
        stream = logging.StreamHandler(err)
        stream.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(stream)
    if cfg.log_syslog and os.path.exists(syslog_path):
        try:
            sys_handler = logging.handlers.SysLogHandler(address=syslog_path)
        except OSError:
            pass  # no syslog daemon listening: stderr still has the messages
        else:
            sys_handler.setFormatter(logging.Formatter("tiercel: %(message)s"))
            logger.addHandler(sys_handler)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
