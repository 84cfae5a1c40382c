"""Call the deployed endpoint: what a user of the LLM Twin's API needs, and no more.

    endpoint.py    LLMInferenceSagemakerEndpoint: set_payload, inference, stream, chat; from_settings
                   (backend "tgi", the book's, or "vllm": the same payload and results on both)
    async_.py      InvokeEndpointAsync through S3 (submit_async, wait_async, async_bucket)
    bodies.py      the book's payload as the body each container reads (TGI's generate, vLLM's completion)
    stream/        the response stream: SageMaker's events, TGI's generate_stream, vLLM's completion
                   chunks, the Messages API
    results.py     whole answers as typed results
    errors.py      botocore's error codes as llm_twin.errors
    parameters.py  a person's sampling options as TGI's or OpenAI's request parameters

It imports config, protocol and errors only: the caller chooses the identity (`credentials`).
"""
