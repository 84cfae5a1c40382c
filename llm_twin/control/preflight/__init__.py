"""llm_twin/control/preflight"""
