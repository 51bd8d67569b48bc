print("dro-infer: not yet implemented")
