"""Domain errors. Interfaces turn these into CLI messages or HTTP responses."""


class VivimError(Exception):
    """Base class for every error vivim reports to a user."""

    code = "vivim_error"


class InvalidIdentifier(VivimError):
    """A user name or id is empty, too long, or could escape its folder."""

    code = "invalid_identifier"


class NotFound(VivimError):
    """The requested object does not exist (or is not visible to the requester)."""

    code = "not_found"


class AlreadyExists(VivimError):
    """An object with the same unique key already exists."""

    code = "already_exists"


class CorruptDatabase(VivimError):
    """A database file exists but cannot be read as a vivim database."""

    code = "corrupt_database"


class SchemaTooNew(VivimError):
    """A database was written by a newer vivim than this one."""

    code = "schema_too_new"


class ParseError(VivimError):
    """An input file or record could not be parsed."""

    code = "parse_error"


class InvalidInput(VivimError):
    """A parameter has the wrong shape (a date that is not a date, an unknown option)."""

    code = "invalid_input"


class Unavailable(VivimError):
    """A part of vivim that should be running is not (worth retrying later)."""

    code = "unavailable"
