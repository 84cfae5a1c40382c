"""llm_twin/protocol"""
