"""Knowledge base: loading, chunking, embedding, vector + lexical indexes, hybrid retrieval.

This package imports nothing from the rest of the project and never reads global settings:
everything it needs arrives as constructor arguments. Heavy libraries (torch,
sentence-transformers, chromadb) are imported lazily, so quick commands stay quick.
"""
