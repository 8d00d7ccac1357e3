"""The AWS runtime: three Lambda handlers over the same service as the local assistant.

Entry points (what the CDK stack references):
    rag_assistant.aws.upload_handler.handler      rag-upload-handler    (S3 events)
    rag_assistant.aws.query_handler.handler       rag-query-handler     (POST /rag/query)
    rag_assistant.aws.documents_handler.handler   rag-documents-handler (/rag/documents...)
"""
