"""Kafka connection security (TLS, SASL), passed through to aiokafka unchanged in meaning.

``KafkaSecurity`` holds the settings as plain values (so it can travel to worker
processes); ``client_options`` turns them into aiokafka keyword arguments, building the
``ssl.SSLContext`` in the process that connects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["SECURITY_PROTOCOLS", "SASL_MECHANISMS", "KafkaSecurity"]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")


@dataclass(frozen=True)
class KafkaSecurity:
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> KafkaSecurity:
        """From any settings object with these attribute names (the worker's config)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            choices = ", ".join(SECURITY_PROTOCOLS)
            raise ValueError(f"unknown security protocol {self.security_protocol!r}: use one of {choices}")
        if self.sasl_mechanism is not None and self.sasl_mechanism not in SASL_MECHANISMS:
            choices = ", ".join(SASL_MECHANISMS)
            raise ValueError(f"unknown SASL mechanism {self.sasl_mechanism!r}: use one of {choices}")
        if self.security_protocol.startswith("SASL_") and self.sasl_mechanism is None:
            raise ValueError(f"security protocol {self.security_protocol} needs a SASL mechanism")

    def __repr__(self) -> str:
        # Secrets stay out of logs and tracebacks.
        protocol, mechanism = self.security_protocol, self.sasl_mechanism
        return f"KafkaSecurity(security_protocol={protocol!r}, sasl_mechanism={mechanism!r})"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile,
                certfile=self.ssl_certfile,
                keyfile=self.ssl_keyfile,
                password=self.ssl_password,
            )
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options
