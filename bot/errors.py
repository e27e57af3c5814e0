"""One exception tree for Newswatch.

    NewswatchError
    ├── ConfigError          feeds.yaml or settings unusable (names file:line)
    ├── QueryError           a topic query that does not parse (names the position)
    ├── CommandError         an admin command refused (plain text: why)
    ├── FetchError           fetcher: the feed could not be downloaded
    │   ├── FetchTimeout     connect or read timeout
    │   ├── BodyTooLarge     the body exceeded the size cap
    │   ├── BlockedURL       scheme or address refused (SSRF guard)
    │   └── HTTPStatusError  a non-2xx/304 answer (carries status and Retry-After)
    ├── ParseError           parser: nothing usable could be read from the body
    │   └── NotAFeed         it is something else: an HTML page, plain text, an image (says which)
    ├── StorageError         storage: the database cannot be used (the message says what to do)
    │   ├── DatabaseUnavailable  cannot be opened or written: no such directory, a directory, permissions
    │   ├── DatabaseBusy     another process kept it locked past the busy timeout
    │   ├── DiskError        a write failed at the disk (I/O error); the transaction was rolled back
    │   │   └── DiskFull     no space left; the transaction was rolled back
    │   ├── SchemaMismatch   tables or schema version not what this program expects
    │   └── DatabaseCorrupt  not a SQLite database, or a damaged one
    └── SendError            sender: a message was not delivered
        ├── FloodWait        Telegram asked to wait (carries seconds); retried, never dropped
        ├── ChatGone         the bot was blocked or removed, or the chat no longer exists
        ├── ChatMoved        the group became a supergroup (carries the new chat id)
        ├── BadMarkup        Telegram rejected the HTML; resend as plain text
        ├── MessageGone      the message to edit was deleted or can no longer be edited
        └── SendFailed       anything else (network, 5xx, timeouts); retried with backoff

Third-party exceptions are translated at the boundary with ``raise ... from``.
Every message starts with the stage that raised it ("fetcher: ...").
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error Newswatch raises on purpose."""


class ConfigError(NewswatchError):
    """The configuration file or the settings are invalid."""


class CommandError(NewswatchError):
    """An admin command (Telegram or CLI) was refused; the message says why, in plain text."""


class QueryError(NewswatchError):
    """A topic query could not be parsed."""

    def __init__(self, message: str, query: str = "", position: int = -1) -> None:
        self.query = query
        self.position = position
        if position >= 0 and query:
            message = f"{message} at position {position + 1}: {query[:position]}>>{query[position:]}"
        super().__init__(f"query: {message}")


class FetchError(NewswatchError):
    """A feed could not be fetched."""


class FetchTimeout(FetchError):
    """The server did not answer in time."""


class BodyTooLarge(FetchError):
    """The response body went over the configured cap."""


class BlockedURL(FetchError):
    """The URL's scheme or resolved address is not allowed."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ParseError(NewswatchError):
    """The body is not a feed or page the parser can read."""


class NotAFeed(ParseError):
    """The body is plainly something other than a feed; `looks_like` says what ("an HTML page")."""

    def __init__(self, looks_like: str) -> None:
        super().__init__(f"parser: not a feed (it looks like {looks_like})")
        self.looks_like = looks_like

    def __reduce__(self) -> tuple[type[NotAFeed], tuple[str]]:  # parse workers send it across processes
        return (NotAFeed, (self.looks_like,))


class StorageError(NewswatchError):
    """The database cannot be used; the message names the file and the remedy."""


class DatabaseUnavailable(StorageError):
    """The database file cannot be opened or written (path, directory, permissions, read-only)."""


class DatabaseBusy(StorageError):
    """Another connection held a lock longer than the busy timeout."""


class DiskError(StorageError):
    """A read or write failed at the disk; SQLite rolled the transaction back."""


class DiskFull(DiskError):
    """The disk (or the database's size limit) is full; SQLite rolled the transaction back."""


class SchemaMismatch(StorageError):
    """The tables or the schema version are not what this program expects."""


class DatabaseCorrupt(StorageError):
    """The file is not a SQLite database, or it is damaged."""


class SendError(NewswatchError):
    """A message could not be delivered."""


class FloodWait(SendError):
    """Telegram's flood control: wait `seconds`, then send again."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class ChatGone(SendError):
    """The chat blocked or removed the bot, or does not exist: stop sending to it."""


class ChatMoved(SendError):
    """The group was upgraded to a supergroup with a new id."""

    def __init__(self, message: str, new_chat_id: int) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id


class BadMarkup(SendError):
    """Telegram could not parse the message's HTML."""


class MessageGone(SendError):
    """The message to edit no longer exists or can no longer be edited: leave it as it is."""


class SendFailed(SendError):
    """Any other failure; worth retrying later."""
