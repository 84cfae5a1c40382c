"""llm_twin/control/state"""
