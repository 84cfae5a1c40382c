"""llm_twin/control/models"""
