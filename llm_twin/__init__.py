"""Deploy the LLM Twin to a SageMaker TGI endpoint and stream its tokens."""

__version__ = "0.1.0"
