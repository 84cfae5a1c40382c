"""The local SageMaker runtime: a real model server behind every TGI or vLLM endpoint the emulator hosts.

moto stores endpoints but runs nothing, and neither moto nor LocalStack speaks
`InvokeEndpointWithResponseStream`. This package closes both gaps inside the emulator:

    CreateEndpoint / UpdateEndpoint   start `python -m llm_twin_local.model_server` for the variant's
                                      model on a free loopback port, with the model's container
                                      environment; the endpoint is Creating (or Updating) until
                                      the server's /ping answers, then InService. A server that
                                      dies makes the endpoint Failed, with a FailureReason.
    DeleteEndpoint                    stops the server.
    InvokeEndpoint[WithResponseStream]  answered by `RuntimeMiddleware`, a WSGI layer in front of
                                      moto that proxies to the server's /invocations; the stream
                                      is re-encoded as AWS event-stream `PayloadPart`s as it is
                                      produced, so boto3 decodes it exactly as it decodes AWS.
                                      An endpoint that is Updating keeps serving on its old server.
                                      With a blue/green DeploymentConfig, a new server that answers
                                      takes the traffic and bakes for WaitIntervalInSeconds (capped
                                      by LLM_TWIN_BAKE_CAP_SECONDS, default 5); a rollback alarm in
                                      ALARM meanwhile sends traffic back to the old server
                                      (RollingBack, then InService with a FailureReason naming it).
                                      Under LOCAL_AWS_ENFORCE_IAM the caller is authorized first,
                                      on the endpoint's ARN, by the checks of `authz`.

Only models whose container sets HF_MODEL_ID (a TGI container) or SM_VLLM_MODEL (a vLLM one,
served with `--api vllm` and the flags its entrypoint makes of SM_VLLM_*) get a server; any other
model stays the metadata moto keeps. HF_MODEL_ID is served from disk when it names a
directory; a Hub repo id is served by a stand-in, the tiny random test checkpoint, made
once under the emulator's state directory. The stand-in is logged and shown on the
endpoint's `DeployedImages` (see `sources.STAND_IN_IMAGE`), which `llm-twin status` prints.

One module per job:

    servers     a model-server process: start, /ping, watch, stop
    sources     the directory a server loads: on disk, the stand-in, an S3 prefix, converted weights
    model_data  an S3 prefix downloaded from the emulator's own S3, every key checked
    reaper      model servers never outlive the emulator (a lifeline pipe and a registry)
    lifecycle   `LocalRuntime`: create, update (with the blue/green bake), delete
    rollout     what an update's DeploymentConfig asks for: bake time, rollback alarms
    hooks       moto's endpoint calls routed through `LocalRuntime`
    faults      the debugging knobs: jitter, throttling, stalls and broken or re-cut streams
    proxy       `RuntimeMiddleware`: authorize, find the serving server, invoke, stream

Debugging knobs, in the emulator's environment, so clients are tested against a bad day
(each is described where it is read, in `faults`): LLM_TWIN_CHUNK_JITTER (with
LLM_TWIN_CHUNK_JITTER_SEED), LLM_TWIN_THROTTLE_FIRST, LLM_TWIN_STALL_AFTER_PARTS (with
LLM_TWIN_STALL_SECONDS), and LLM_TWIN_FAULT, or a request's CustomAttributes `llm-twin-fault`.

This package imports nothing heavy itself: `daemon` reads `reaper` without moto installed.
"""
