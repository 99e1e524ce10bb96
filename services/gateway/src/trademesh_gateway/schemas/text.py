"""Free text a request may carry on to a service.

NUL is valid JSON and valid protobuf, but PostgreSQL cannot store or even compare it in
`text`; it belongs in no name, password or post, so the edge refuses it with the field's
name instead of failing a call further in. (An unpaired surrogate, which protobuf could
not encode, is already refused when the body is parsed.)
"""

from typing import Annotated

from pydantic import AfterValidator


def refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL (U+0000)")
    return value


WireText = Annotated[str, AfterValidator(refuse_nul)]
