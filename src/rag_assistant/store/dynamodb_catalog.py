"""The document catalog in the `rag-documents` table: read-only, no vectors, no numpy.

The documents Lambda (256 MB, 30 s) lists and shows documents with this alone; the vector
store (dynamodb_store) extends it with chunks, vectors and search. The item layout is
described there.
"""

from __future__ import annotations

from typing import Any

from ..models import Document, DocumentStatus
from .base import decode_cursor, encode_cursor

DOCUMENT_SK = "#document"
META_PK = "#meta"
GSI_NAME = "document-id-index"
GSI_PARTITION = "entity"
GSI_SORT = "listed_at"
_DOC_FIELDS = (
    "file_name", "source", "content_hash", "status", "chunk_count", "size_bytes", "media_type",
    "page_count", "embedding_model", "error", "created_at", "updated_at",
)


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable arguments; the CDK stack declares the same keys and index."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "document_id", "AttributeType": "S"},
            {"AttributeName": "chunk_id", "AttributeType": "S"},
            {"AttributeName": GSI_PARTITION, "AttributeType": "S"},
            {"AttributeName": GSI_SORT, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "document_id", "KeyType": "HASH"},
            {"AttributeName": "chunk_id", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI_NAME,
                "KeySchema": [
                    {"AttributeName": GSI_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": GSI_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def create_client() -> Any:
    import boto3
    from botocore.config import Config

    # Endpoints come from the standard AWS settings (AWS_ENDPOINT_URL_DYNAMODB, ...):
    # the same code talks to AWS and to DynamoDB Local. Throttling is retried with backoff.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 8}))


class DynamoDBCatalog:
    """Reads document items; never writes."""

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self._client = client or create_client()
        self._ser, self._de = TypeSerializer(), TypeDeserializer()

    def reconnect(self) -> None:
        """A new client: new connections, credentials resolved again (after a SnapStart restore)."""
        self._client = create_client()

    # --- documents -----------------------------------------------------------------------

    def get_document(self, document_id: str) -> Document | None:
        item = self._get(document_id, DOCUMENT_SK, consistent=True)
        return _document(item) if item else None

    def list_documents(
        self, limit: int = 10, cursor: str | None = None
    ) -> tuple[list[Document], str | None]:
        limit = max(1, int(limit))
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#e = :e",
            "ExpressionAttributeNames": {"#e": GSI_PARTITION},
            "ExpressionAttributeValues": {":e": {"S": "document"}},
            "ScanIndexForward": False,
        }
        if cursor:
            listed_at, document_id = decode_cursor(cursor, 2)
            request["ExclusiveStartKey"] = {
                GSI_PARTITION: {"S": "document"}, GSI_SORT: {"S": listed_at},
                "document_id": {"S": document_id}, "chunk_id": {"S": DOCUMENT_SK},
            }
        items: list[dict[str, Any]] = []
        # One more than asked tells whether a next page exists (DynamoDB's own
        # LastEvaluatedKey can point at an empty page).
        while len(items) <= limit:
            request["Limit"] = limit + 1 - len(items)
            page = self._client.query(**request)
            items += [self._plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        documents = [_document(i) for i in items[:limit]]
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            next_cursor = encode_cursor(last[GSI_SORT], last["document_id"])
        return documents, next_cursor

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self.table_name, Key=self._key(pk, sk), ConsistentRead=consistent)
        item = response.get("Item")
        return self._plain(item) if item else None

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"document_id": {"S": pk}, "chunk_id": {"S": sk}}

    def _item(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in values.items() if v is not None}

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        plain = {k: self._de.deserialize(v) for k, v in item.items()}
        for key, value in plain.items():
            if hasattr(value, "value") and isinstance(value.value, bytes):
                plain[key] = value.value  # boto3's Binary wrapper
        return plain


def _document(item: dict[str, Any]) -> Document:
    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value) if value is not None else None

    return Document(
        document_id=item["document_id"], file_name=item.get("file_name", ""), source=item.get("source", ""),
        content_hash=item.get("content_hash", ""), status=DocumentStatus(item.get("status", "processing")),
        chunk_count=number("chunk_count") or 0, size_bytes=number("size_bytes") or 0,
        media_type=item.get("media_type", ""), page_count=number("page_count"),
        embedding_model=item.get("embedding_model", ""), error=item.get("error"),
        created_at=item.get("created_at", ""), updated_at=item.get("updated_at", ""),
    )
