"""LoggingConfiguration: AWS's document, AWS's checks, and no quiet OFF."""

from __future__ import annotations

from typing import Any

import pytest

from express.errors import UsageError
from express.logs import LoggingConfiguration, LogLevel, default_log_group

GROUP_ARN = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/vendedlogs/states/Router-Logs:*"


def _doc(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "level": "ALL",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP_ARN}}],
    }
    document.update(overrides)
    return {key: value for key, value in document.items() if value is not None}


def test_reads_awss_document() -> None:
    config = LoggingConfiguration.from_aws(_doc())
    assert config == LoggingConfiguration(LogLevel.ALL, True, "/aws/vendedlogs/states/Router-Logs")
    assert config.enabled
    assert config.group_for("Other") == "/aws/vendedlogs/states/Router-Logs"


def test_defaults_are_awss() -> None:
    config = LoggingConfiguration.from_aws({})
    assert (config.level, config.include_execution_data, config.enabled) == (LogLevel.OFF, False, False)
    assert LoggingConfiguration(LogLevel.ERROR).group_for("Router") == default_log_group("Router")
    assert default_log_group("Router") == "/aws/vendedlogs/states/Router"


def test_off_needs_no_destination() -> None:
    assert LoggingConfiguration.from_aws({"level": "OFF"}).level is LogLevel.OFF


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_doc(level="DEBUG"), "unknown log level 'DEBUG'"),
        (_doc(level=None), "no level, which AWS reads as OFF"),
        (_doc(destinations=[]), "needs a destination"),
        (_doc(destinations=[{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP_ARN}}] * 2), "limited to one"),
        (_doc(destinations=[{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP_ARN[:-2]}}]), "ending in ':*'"),
        (_doc(destinations=[{"s3": {}}]), "cloudWatchLogsLogGroup"),
        (_doc(includeExecutionData="yes"), "must be true or false"),
        (_doc(destinations="arn"), "must be a list"),
        ({**_doc(), "logLevel": "ALL"}, "unknown key(s) ['logLevel']"),
    ],
)
def test_rejects_what_aws_rejects_and_says_how_to_fix(document: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        LoggingConfiguration.from_aws(document)
    assert message in str(raised.value)


def test_level_may_be_given_as_text() -> None:
    assert LoggingConfiguration("FATAL").level is LogLevel.FATAL  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="expected one of ALL, ERROR, FATAL, OFF"):
        LoggingConfiguration("all")  # type: ignore[arg-type]


def test_log_group_names_follow_cloudwatch() -> None:
    with pytest.raises(UsageError, match="invalid log group name"):
        LoggingConfiguration(LogLevel.ALL, log_group="bad name")
    assert LoggingConfiguration(LogLevel.ALL, log_group="a/b_c-d.e#f").log_group == "a/b_c-d.e#f"
