import json
import stat
from pathlib import Path

from llm_twin.config import load_settings
from llm_twin.control import tfvars

BOOTSTRAP_OUTPUTS = {
    "execution_role_arn": "arn:aws:iam::123456789012:role/llm-twin-sagemaker-execution",
    "artifact_bucket_name": "llm-twin-artifacts-123456789012-eu-central-1",
}


def test_main_vars_carry_settings_and_bootstrap_outputs() -> None:
    s = load_settings({"MAX_INPUT_TOKENS": "1024", "AUTOSCALING_ENABLED": "true"}, dotenv_path=None)
    variables = tfvars.main_vars(s, BOOTSTRAP_OUTPUTS)
    assert variables["execution_role_arn"] == BOOTSTRAP_OUTPUTS["execution_role_arn"]
    assert variables["endpoint"]["max_input_tokens"] == 1024
    assert variables["endpoint"]["tgi_image_tag"] == "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    assert variables["autoscaling"]["enabled"] is True
    assert variables["force_destroy"] is True  # local target: throwaway
    assert variables["s3_use_path_style"] is True


def test_hf_token_goes_to_the_environment_never_the_tfvars_file(tmp_path: Path) -> None:
    s = load_settings({"HF_TOKEN": "hf_do_not_write_me"}, dotenv_path=None)
    path = tfvars.write_tfvars(tmp_path / "terraform.tfvars.json", tfvars.main_vars(s, BOOTSTRAP_OUTPUTS))
    assert "hf_do_not_write_me" not in path.read_text()
    assert tfvars.secret_env(s) == {"TF_VAR_hf_token": "hf_do_not_write_me"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["endpoint"]["hf_model_id"] == "mlabonne/TwinLlama-3.1-8B-DPO"


def test_explicit_image_uri_replaces_the_catalogue_tag() -> None:
    s = load_settings({"TGI_IMAGE_URI": "123.dkr.ecr.eu-central-1.amazonaws.com/x:1"}, dotenv_path=None)
    endpoint = tfvars.main_vars(s, BOOTSTRAP_OUTPUTS)["endpoint"]
    assert endpoint["image_uri"] == "123.dkr.ecr.eu-central-1.amazonaws.com/x:1"
    assert "tgi_image_tag" not in endpoint


def test_rollout_alarms_schedule_and_async_reach_the_variables() -> None:
    s = load_settings(
        {
            "ROLLOUT_MODE": "linear",
            "ROLLOUT_LINEAR_STEP_PERCENT": "20",
            "ALARM_SETUP_TIME_ENABLED": "false",
            "AUTOSCALING_ENABLED": "true",
            "SCHEDULED_SCALE_IN": "true",
            "SCHEDULE_TIMEZONE": "Europe/Berlin",
            "ASYNC_INFERENCE_ENABLED": "true",
        },
        dotenv_path=None,
    )
    variables = tfvars.main_vars(s, BOOTSTRAP_OUTPUTS)
    assert variables["rollout"]["mode"] == "linear"
    assert variables["rollout"]["linear_step_percent"] == 20
    assert variables["alarms"]["setup_time_enabled"] is False
    assert variables["alarms"]["latency_p99_threshold_ms"] == 30000
    assert variables["scheduled_scaling"] == {
        "enabled": True,
        "scale_in_cron": "cron(0 19 ? * MON-FRI *)",
        "scale_out_cron": "cron(0 7 ? * MON-FRI *)",
        "timezone": "Europe/Berlin",
    }
    assert variables["async_inference"] == {"enabled": True, "max_concurrent_invocations_per_instance": 4}


# -- the local model: rendered into the container only on TARGET=local --------------------------

LOCAL_VARIABLES = {"LLM_TWIN_LOCAL_MODEL_ID", "LLM_TWIN_LOCAL_MODEL", "LLM_TWIN_LOCAL_DTYPE"}


def _endpoint(**environ: str) -> dict:
    return tfvars.main_vars(load_settings(environ, dotenv_path=None), BOOTSTRAP_OUTPUTS)["endpoint"]


def test_the_local_target_serves_the_default_local_model_in_place_of_a_hub_id() -> None:
    assert _endpoint()["extra_environment"] == {
        "LLM_TWIN_LOCAL_MODEL_ID": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "LLM_TWIN_LOCAL_MODEL": "auto",
        "LLM_TWIN_LOCAL_DTYPE": "auto",
    }
    assert _endpoint()["hf_model_id"] == "mlabonne/TwinLlama-3.1-8B-DPO"  # the cloud's model is unchanged


def test_an_empty_local_model_id_serves_hf_model_id_itself() -> None:
    environment = _endpoint(LOCAL_MODEL_ID="", LOCAL_DTYPE="bfloat16", LOCAL_MODEL="model")[
        "extra_environment"
    ]
    assert environment == {"LLM_TWIN_LOCAL_MODEL": "model", "LLM_TWIN_LOCAL_DTYPE": "bfloat16"}


def test_a_path_or_pushed_weights_are_served_as_they_are() -> None:
    for environ in ({"HF_MODEL_ID": "/models/mine"}, {"MODEL_DATA_S3_URI": "s3://bucket/models/x/v1/"}):
        assert (
            "LLM_TWIN_LOCAL_MODEL_ID"
            not in _endpoint(LOCAL_MODEL_ID="someone/small", **environ)["extra_environment"]
        )


def test_the_aws_render_has_no_local_variable_and_the_same_revision() -> None:
    aws = {
        "TARGET": "aws",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-key",
        "LOCAL_MODEL_ID": "someone/small",
        "LOCAL_DTYPE": "float32",
        "LOCAL_MODEL": "stand-in",
        "HF_MODEL_REVISION": "0123456789abcdef0123456789abcdef01234567",
    }
    rendered = json.dumps(_endpoint(**aws))
    assert not [name for name in LOCAL_VARIABLES if name in rendered]
    assert "someone/small" not in rendered and _endpoint(**aws)["extra_environment"] == {}
    local = _endpoint(**{k: v for k, v in aws.items() if k != "TARGET"})
    assert _endpoint(**aws)["hf_model_revision"] == local["hf_model_revision"] == aws["HF_MODEL_REVISION"]


def test_no_revision_renders_none() -> None:
    assert "hf_model_revision" not in _endpoint()
