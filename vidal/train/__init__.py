"""Training loops for vidal's detectors on sparse frame labels, on CPU or CUDA."""
