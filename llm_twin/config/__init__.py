"""llm_twin/config"""
