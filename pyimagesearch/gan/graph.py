"""Walking the graph of a built Keras model: where D's logits and its
last feature maps are, for the losses and the self-supervised decoder.
It reads Keras' private node records (`_keras_history`,
`_inbound_nodes`); tests/gan/test_decoder.py and test_step.py fail first
if a Keras release changes them."""


def input_of(tensor, layer_type):
    """The input of the first `layer_type` layer met walking back from
    `tensor` along first inputs, in the graph of the model that made it (a
    shared layer has a node in each model it is called in)."""
    while True:
        history = tensor._keras_history
        node = history.operation._inbound_nodes[history.node_index]
        if not node.input_tensors:      # an Input: none met
            raise ValueError(f"no {layer_type.__name__} layer on the way "
                             "to this output")
        tensor = node.input_tensors[0]
        if isinstance(history.operation, layer_type):
            return tensor
