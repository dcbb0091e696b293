"""The context engine: what an AI should know for a message, within a token budget.

Layers are assembled locally, without any LLM or network; the budget is counted with
cl100k and enforced exactly (see budget.py and docs/CONTEXT.md).
"""
