MODELS = {"slac": None}
