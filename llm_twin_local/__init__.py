"""llm_twin_local"""
