"""The error tree: every error carries its exit code and a one-line message saying what to do.

Messages never contain PHI: documents are named by id, hash prefix and page only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PARTIAL_FAILURE = 1  # the run finished but some documents failed
    BAD_ARGS = 2
    INPUT_FILE = 3
    MISSING_DEPENDENCY = 4
    DATABASE = 5
    BROKER = 6
    INTERRUPTED = 130


class ChartmigrateError(Exception):
    """Base class. ``code`` is a stable machine-readable reason; ``str()`` is the one-line message."""

    exit_code: ExitCode = ExitCode.BAD_ARGS
    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message.splitlines()[0] if message else self.code)

    @property
    def message(self) -> str:
        return str(self.args[0])


# --- systemic: stop the run ---------------------------------------------------------------
class BadArguments(ChartmigrateError):
    exit_code = ExitCode.BAD_ARGS
    code = "bad_arguments"


class MissingDependency(ChartmigrateError):
    exit_code = ExitCode.MISSING_DEPENDENCY
    code = "missing_dependency"


class DatabaseError(ChartmigrateError):
    exit_code = ExitCode.DATABASE
    code = "database"


class BrokerError(ChartmigrateError):
    exit_code = ExitCode.BROKER
    code = "broker"


class NotFound(ChartmigrateError):
    exit_code = ExitCode.BAD_ARGS
    code = "not_found"


# --- per document: the document fails, the batch goes on ----------------------------------
class DocumentError(ChartmigrateError):
    exit_code = ExitCode.INPUT_FILE
    code = "document"


class EmptyFile(DocumentError):
    code = "empty_file"


class UnsupportedType(DocumentError):
    code = "unsupported_type"


class ExtensionMismatch(DocumentError):
    code = "extension_mismatch"


class CorruptFile(DocumentError):
    code = "corrupt"


class TruncatedFile(DocumentError):
    code = "truncated"


class EncryptedPdf(DocumentError):
    code = "encrypted"


class DecompressionBomb(DocumentError):
    code = "too_large"


class ToolFailed(DocumentError):
    """An outside tool failed on this document's input (crash, timeout)."""

    code = "tool_failed"
