"""Reading Dagster's error chains: what a person needs is the innermost message."""


def root_cause(error) -> str:
    """The innermost message of a Dagster SerializableErrorInfo chain: its first line ("ValueError: ..."),
    since what follows may be a library's context (DuckDB's caret under the SQL)."""
    while error.cause is not None:
        error = error.cause
    text = error.message.strip()
    return text.splitlines()[0] if text else error.cls_name


def settings_error(exc) -> str:
    """A pydantic ValidationError in one line per field: 'top_n=0: Input should be greater than or equal to 1'."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    parts = []
    for e in errors():
        field = ".".join(str(p) for p in e["loc"])
        value = e.get("input")
        msg = e["msg"].removeprefix("Value error, ")  # a validator's own message, as written
        parts.append(f"{field}={value!r}: {msg}" if field and not isinstance(value, dict) else msg)
    return "; ".join(parts)
