"""Log files of the server and the node: rotating, and readable by their owner only.

Logs name users, nodes and tasks; they are created 0600 (directories 0700), and so is
every file that rotation creates later.
"""

from __future__ import annotations

import glob
import io
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, cast

from v6lib.config.common import LoggingConfig
from v6lib.private_files import make_private_dir, private_opener, restrict

__all__ = ["PrivateRotatingFileHandler", "file_handler"]


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A ``RotatingFileHandler`` whose files are 0600 from their creation on.

    The standard handler opens new files with the process umask (usually 0644); this
    one passes an opener with mode 0600, which covers the first file and every file a
    rollover opens. Files left by earlier versions are tightened when it starts.
    """

    def __init__(self, filename: str, **kwargs: Any) -> None:
        make_private_dir(Path(filename).parent)
        for existing in [filename, *glob.glob(glob.escape(filename) + ".*")]:
            restrict(existing)
        super().__init__(filename, **kwargs)

    def _open(self) -> io.TextIOWrapper:
        # NOTE: the handler's mode is a text mode ("a" or "w"), so open() answers a
        # TextIOWrapper; the stubs cannot know that from a variable mode.
        return cast(io.TextIOWrapper, open(self.baseFilename, self.mode, encoding=self.encoding,
                                           errors=self.errors, opener=private_opener))


def file_handler(settings: LoggingConfig) -> PrivateRotatingFileHandler:
    """The rotating handler for ``settings.file`` with its size and backup count."""
    if settings.file is None:
        raise ValueError("file_handler needs logging.file")
    return PrivateRotatingFileHandler(str(settings.file), maxBytes=settings.max_size * 1024,
                                      backupCount=settings.backup_count, encoding="utf-8")
