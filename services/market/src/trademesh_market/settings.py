"""The market service's configuration, from `TRADEMESH_*` environment variables."""

from typing import Literal, Self

from pydantic import model_validator

from trademesh_common.config import ServiceSettings
from trademesh_common.kafka import Topics


class MarketSettings(ServiceSettings):
    service_name: str = "market"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/market"
    marketdata_topic: str = Topics.MARKETDATA
    # "sample": the bundled dataset; "alphavantage": its OVERVIEW API at the URL below.
    fundamentals_provider: Literal["sample", "alphavantage"] = "sample"
    alphavantage_url: str = "https://www.alphavantage.co"
    alphavantage_api_key: str = ""

    @model_validator(mode="after")
    def _external_provider_has_a_key(self) -> Self:
        if self.fundamentals_provider == "alphavantage" and not self.alphavantage_api_key:
            raise ValueError("TRADEMESH_ALPHAVANTAGE_API_KEY is required for that provider")
        return self
