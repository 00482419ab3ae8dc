import sys
import time
from pathlib import Path

from multineus.config import tiny_config
from multineus.demo import run_demo

res = {}
for steps, s1, s2 in [(300, 60, 40), (1000, 100, 100), (3000, 200, 200)]:
    cfg = tiny_config()
    cfg.trainer.device = sys.argv[1]
    cfg.trainer.steps = steps
    cfg.fit.stage1_steps = s1
    cfg.fit.stage2_steps = s2
    t = time.time()
    r = run_demo(cfg, Path(sys.argv[2]) / f"s{steps}")
    res[steps] = dict(
        mean=(r.mean_head.face_mm, r.mean_head.head_mm),
        fit=(r.fitted.face_mm, r.fitted.head_mm),
        train=(r.train_head.face_mm, r.train_head.head_mm),
        sec=time.time() - t,
    )
    print(steps, res[steps], flush=True)
