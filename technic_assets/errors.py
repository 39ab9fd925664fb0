"""Reading Dagster's error chains: what a person needs is the innermost message."""


def root_cause(error) -> str:
    """The innermost message of a Dagster SerializableErrorInfo chain (its last line)."""
    while error.cause is not None:
        error = error.cause
    text = error.message.strip()
    return text.splitlines()[-1] if text else error.cls_name
