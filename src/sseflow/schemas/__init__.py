"""Pydantic documents stored in the database."""
