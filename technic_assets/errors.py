"""Reading Dagster's error chains: what a person needs is the innermost message."""


def root_cause(error) -> str:
    """The innermost message of a Dagster SerializableErrorInfo chain: its first line ("ValueError: ..."),
    since what follows may be a library's context (DuckDB's caret under the SQL)."""
    while error.cause is not None:
        error = error.cause
    text = error.message.strip()
    return text.splitlines()[0] if text else error.cls_name
