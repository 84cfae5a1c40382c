"""llm_twin/control/tf"""
