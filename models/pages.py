"""Page-numbered listings, shared by every `…:list`-style event."""

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


async def page_of(
    collection: AsyncCollection,
    query: dict[str, Any],
    *,
    sort: list[tuple[str, int]],
    page: int,
    limit: int,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One page of documents plus `{page, limit, total, pages}`; pages count from 1."""
    total = await collection.count_documents(query)
    documents = await collection.find(query).sort(sort).skip((page - 1) * limit).limit(limit).to_list()
    return documents, {"page": page, "limit": limit, "total": total, "pages": -(-total // limit)}
