"""Training in a checkout: `python train_main.py --flagfile=configs/ntu_cs.flags`, the same
command as `slnl-train` and `python -m slnl_tf.train` (slnl_tf/train.py)."""
from slnl_tf.train import cli

if __name__ == "__main__":
    cli()
