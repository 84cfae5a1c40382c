"""llm_twin/control"""
