print("dro-bench: not yet implemented")
