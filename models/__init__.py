"""The domain: documents, indexes, invariants and the operations that change them."""
