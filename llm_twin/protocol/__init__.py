"""Wire facts every layer shares, with no I/O: it imports only `llm_twin.errors`.

lines.py        the one byte-line splitter
sse.py          the one server-sent-event splitter (the stream parsers' hot path)
tgi.py          TGI's finish reasons and request-parameter rules
eventstream.py  AWS event-stream framing (the emulator writes it, botocore reads it)
text.py, gpus.py, checkpoints.py, quota_codes.py   text checks, the GPU table, checkpoint
                manifests, Service Quotas codes
"""
