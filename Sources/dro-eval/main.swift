print("dro-eval: not yet implemented")
