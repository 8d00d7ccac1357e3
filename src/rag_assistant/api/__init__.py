"""The HTTP API: the FastAPI app `rag serve` runs locally. On AWS the Lambda functions serve the
same routes through Powertools (rag_assistant.aws), over the same contract."""
