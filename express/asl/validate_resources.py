"""Task ``Resource`` ARNs, checked the way AWS checks them for an EXPRESS state machine.

Accepted: Lambda function ARNs (optionally with a version or alias), the optimised
integrations ``arn:<partition>:states:::<service>:<action>`` that AWS offers (table
below, from the Step Functions developer guide), and AWS SDK integrations
``arn:<partition>:states:::aws-sdk:<service>:<action>`` (over two hundred services, so
only their shape is checked). Express machines support only the Request Response
pattern: activities, ``.sync`` and ``.waitForTaskToken`` are rejected with AWS's own
messages.
"""

from __future__ import annotations

import re
from typing import Any

from express.asl.validate_common import (
    Report,
    check_jsonata_value,
    check_template,
    child,
    describe,
    is_jsonata,
)

__all__ = ["OPTIMISED_INTEGRATIONS", "check_credentials", "check_resource"]

OPTIMISED_INTEGRATIONS: dict[str, frozenset[str]] = {
    service: frozenset(actions.split())
    for service, actions in {
        "apigateway": "invoke",
        "athena": "startQueryExecution stopQueryExecution getQueryExecution getQueryResults",
        "batch": "submitJob",
        "bedrock": "invokeModel createModelCustomizationJob",
        "codebuild": "startBuild stopBuild batchDeleteBuilds batchGetReports startBuildBatch stopBuildBatch "
        "retryBuildBatch deleteBuildBatch",
        "databrew": "startJobRun",
        "dynamodb": "getItem putItem updateItem deleteItem",
        "ecs": "runTask",
        "eks": "createCluster deleteCluster createFargateProfile deleteFargateProfile createNodegroup "
        "deleteNodegroup runJob call",
        "elasticmapreduce": "createCluster terminateCluster addStep cancelStep "
        "setClusterTerminationProtection modifyInstanceFleetByName modifyInstanceGroupByName",
        "emr-containers": "createVirtualCluster deleteVirtualCluster startJobRun",
        "emr-serverless": "createApplication startApplication stopApplication deleteApplication startJobRun "
        "cancelJobRun",
        "events": "putEvents",
        "glue": "startJobRun",
        "http": "invoke",
        "lambda": "invoke",
        "mediaconvert": "createJob",
        "sagemaker": "createEndpoint createEndpointConfig createHyperParameterTuningJob createLabelingJob "
        "createModel createProcessingJob createTrainingJob createTransformJob updateEndpoint",
        "sns": "publish",
        "sqs": "sendMessage",
        "states": "startExecution",
    }.items()
}

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_LAMBDA = re.compile(
    rf"^arn:{_PARTITION}:lambda:{_REGION}:\d{{12}}:function:[A-Za-z0-9_-]{{1,64}}(?::[A-Za-z0-9$_-]{{1,128}})?$"
)
_ACTIVITY = re.compile(rf"^arn:{_PARTITION}:states:{_REGION}:\d{{12}}:activity:.+$")
_INTEGRATION = re.compile(rf"^arn:{_PARTITION}:states:::(.+)$")
_SDK = re.compile(r"^aws-sdk:[a-z0-9-]+:[a-z][A-Za-z0-9]*$")
_SYNC = re.compile(r"\.sync(?::\d+)?$")


def check_resource(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    """The Task's Resource, and the parameters an integration cannot run without."""
    resource = state.get("Resource")
    at = child(pointer, "Resource")
    if not isinstance(resource, str):
        report.error(at, f"Field 'Resource' must be an ARN string; got {describe(resource)}")
        return
    if _LAMBDA.match(resource):
        return
    if _ACTIVITY.match(resource):
        report.error(at, "Express state machine does not support Activity ARN")
        return
    integration = _INTEGRATION.match(resource)
    if integration is None:
        if resource.startswith("arn:"):
            report.error(at, _not_recognized(resource))
        else:
            report.error(
                at,
                f"'{resource}' is not a resource ARN: use a Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>) or an integration ARN "
                "(arn:aws:states:::<service>:<action>)",
                "INVALID_RESOURCE",
            )
        return
    target = integration.group(1)
    if target.endswith(".waitForTaskToken"):
        # AWS's message does end with a space.
        report.error(at, "Express state machine does not support '.waitForTaskToken' service integration ")
        return
    if _SYNC.search(target):
        report.error(at, "Express state machine does not support '.sync' service integration")
        return
    if target.startswith("aws-sdk:"):
        if not _SDK.match(target):
            report.error(at, _not_recognized(resource))
        return
    service, _, action = target.partition(":")
    if action not in OPTIMISED_INTEGRATIONS.get(service, ()):
        report.error(at, _not_recognized(resource))
        return
    if (service, action) == ("lambda", "invoke"):
        _require_function_name(report, state, pointer, jsonata)


def _not_recognized(resource: str) -> str:
    return (
        f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, "
        "or the resource is not available in this region."
    )


def _require_function_name(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    field = "Arguments" if jsonata else "Parameters"
    payload = state.get(field)
    if is_jsonata(payload):
        return  # computed when the state runs
    if isinstance(payload, dict) and ("FunctionName" in payload or "FunctionName.$" in payload):
        return
    at = child(pointer, field) if isinstance(payload, dict) else pointer
    report.error(at, f"The field 'FunctionName' is required but was missing (set it in '{field}')")


def check_credentials(report: Report, credentials: Any, pointer: str, jsonata: bool) -> None:
    """Credentials name the role to assume: ``RoleArn`` (or ``RoleArn.$`` under JSONPath)."""
    if not isinstance(credentials, dict):
        report.error(pointer, f"Field 'Credentials' must be an object; got {describe(credentials)}")
        return
    if "RoleArn" in credentials:
        if not isinstance(credentials["RoleArn"], str):
            report.error(child(pointer, "RoleArn"), "Field 'RoleArn' must be a string")
        elif jsonata:
            check_jsonata_value(report, credentials["RoleArn"], child(pointer, "RoleArn"))
    elif "RoleArn.$" in credentials and not jsonata:
        check_template(report, {"RoleArn.$": credentials["RoleArn.$"]}, pointer)
    else:
        report.error(pointer, "The field 'RoleArn' is required but was missing")
