"""llm_twin/client"""
