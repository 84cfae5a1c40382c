"""llm_twin/control/cost"""
