"""llm_twin/control/deploy"""
