"""Read what a TGI or vLLM endpoint streams back through SageMaker, in layers of plain generators:

    sagemaker.payload_parts(response["Body"])  ->  bytes       (SageMaker's events; errors raise)
    tgi.parse_generate_stream(parts)           ->  TokenEvent  (TGI's `generate_stream`)
    vllm.parse_completion_stream(parts)        ->  TokenEvent  (vLLM's `text_completion` chunks)
    chat.parse_chat_stream(parts)              ->  ChatDelta   (the Messages API on both, until `[DONE]`)

Lines and server-sent events are split by `llm_twin.protocol.sse`, the one splitter.
"""

from llm_twin.client.stream.chat import ChatDelta, parse_chat_stream
from llm_twin.client.stream.sagemaker import payload_parts
from llm_twin.client.stream.tgi import (
    FinishReason,
    StreamDetails,
    Token,
    TokenEvent,
    parse_generate_stream,
)
from llm_twin.client.stream.vllm import parse_completion_stream

__all__ = [
    "ChatDelta",
    "FinishReason",
    "StreamDetails",
    "Token",
    "TokenEvent",
    "parse_chat_stream",
    "parse_completion_stream",
    "parse_generate_stream",
    "payload_parts",
]
