"""Count what the project left in an emulator, through boto3: the ground truth for destroy."""

from tests.conftest import client


def project_resources(port: int | str, prefix: str = "llm-twin") -> dict[str, list[str]]:
    s3, ecr, sagemaker = client(port, "s3"), client(port, "ecr"), client(port, "sagemaker")
    iam, scaling = client(port, "iam"), client(port, "application-autoscaling")
    found = {
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "repositories": [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]],
        "models": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
        "endpoint_configs": [
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ],
        "endpoints": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
        "scalable_targets": [
            t["ResourceId"]
            for t in scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        ],
        "scheduled_actions": [
            a["ScheduledActionName"]
            for a in scaling.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"]
        ],
        "alarms": [a["AlarmName"] for a in client(port, "cloudwatch").describe_alarms()["MetricAlarms"]],
        "users": [u["UserName"] for u in iam.list_users()["Users"]],
        "groups": [g["GroupName"] for g in iam.list_groups()["Groups"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
    }
    return {kind: sorted(n for n in names if prefix in n) for kind, names in found.items()}
