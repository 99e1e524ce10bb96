"""The one error shape every failing request answers with."""

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable reason, e.g. `invalid_argument`.")
    message: str = Field(description="What exactly was wrong, for humans.")
    request_id: str = Field(description="Quote this when reporting a problem.")


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_argument",
                        "message": "body.quantity: Input should be greater than 0",
                        "request_id": "5f1d2a0c9b7e4c1fa3e2d4b6c8a0e1f2",
                    }
                }
            ]
        }
    )

    error: ErrorBody
