import keras
import numpy as np
import pytest
import tensorflow as tf

from slnl_tf import optimizers

VARIABLES = 5


def _schedule():
    return keras.optimizers.schedules.CosineDecay(0.0, 20, warmup_target=0.1, warmup_steps=4)


PAIRS = {
    "adamw": (keras.optimizers.AdamW, optimizers.AdamW, {"weight_decay": 0.05}),
    "sgd": (keras.optimizers.SGD, optimizers.SGD, {"weight_decay": 0.05, "momentum": 0.9, "nesterov": True}),
}


def _traced_updates(optimizer_class, arguments, steps):
    """Variables after `steps` traced updates, and the traced update's graph."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=(3, 4)).astype("float32")) for _ in range(VARIABLES)]
    gradients = [tf.constant(rng.normal(size=(3, 4)).astype("float32")) for _ in range(VARIABLES)]
    optimizer = optimizer_class(_schedule(), **arguments)
    optimizer.build(variables)

    @tf.function
    def update():
        optimizer.apply(gradients, variables)

    graph = update.get_concrete_function().graph
    for _ in range(steps):
        update()
    return [v.numpy() for v in variables], graph, optimizer


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_updates_equal_keras_and_the_schedule_is_traced_once(name):
    keras_class, our_class, arguments = PAIRS[name]
    expected, keras_graph, _ = _traced_updates(keras_class, arguments, steps=6)
    got, our_graph, optimizer = _traced_updates(our_class, arguments, steps=6)
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)
    assert int(optimizer.iterations.numpy()) == 6

    def schedules(graph):  # the warm-up/decay branch (`ops.cond`) of each evaluation
        return sum(op.type in ("If", "StatelessIf") for op in graph.get_operations())

    assert schedules(keras_graph) == 1 + VARIABLES  # the update's, then one per variable's decay
    assert schedules(our_graph) == 1
    # Outside an update the rate is the schedule's at the current step.
    np.testing.assert_allclose(float(optimizer.learning_rate), float(_schedule()(6)), rtol=1e-6)


def test_eager_updates_equal_keras_and_config_round_trips():
    keras_class, our_class, arguments = PAIRS["adamw"]
    runs = []
    for optimizer_class in (keras_class, our_class):
        variable = keras.Variable(np.ones((2, 2), "float32"))
        optimizer = optimizer_class(_schedule(), **arguments)
        for _ in range(3):
            optimizer.apply([tf.fill((2, 2), 0.5)], [variable])
        runs.append(variable.numpy())
    np.testing.assert_array_equal(runs[0], runs[1])
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is our_class
    assert restored.get_config() == optimizer.get_config()
