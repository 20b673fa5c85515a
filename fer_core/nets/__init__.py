"""The networks: architectures, model files and the classifier that runs, TTA, ensembles, publishing, the model card."""
