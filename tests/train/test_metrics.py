import torch

from torchstn.train.metrics import MetricsLogger, RunningStats, read_metrics, truncate_metrics


def test_running_stats_known_answer():
    s = RunningStats()
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    s.update(torch.tensor(0.5), logits, torch.tensor([0, 1, 1]))
    s.update(torch.tensor(1.0), logits[:1], torch.tensor([1]))
    out = RunningStats.summary(s.as_tensor())
    assert out["loss"] == (0.5 * 3 + 1.0) / 4
    assert out["acc"] == 2 / 4
    t = RunningStats()
    t.load_tensor(s.as_tensor())
    assert torch.equal(t.as_tensor(), s.as_tensor())


def test_logger_appends_and_truncate_drops_later_epochs(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    for e in (1, 2, 3):
        log.log({"epoch": e, "loss": 1.0 / e}, step=e)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2, 3]
    truncate_metrics(tmp_path, 2)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2]


def test_disabled_logger_writes_nothing(tmp_path):
    MetricsLogger(tmp_path, enabled=False).log({"epoch": 1})
    assert read_metrics(tmp_path) == []
