#!/usr/bin/env python3
"""Summary of a Benchmarks/Monitoring/run.sh directory: throughput, detection delay, missed and
false alerts against the stream's labels, memory over the run; and, from the station's window
decisions, how other alert rules k/n would have done on the same run.

    analyze.py <run-dir> [--workers N] [--threads T] [--stride S] [--fps F] [--alert k/n] [--cool-down s]

A fall is *detected* when an alert's window overlaps the fall clip (its last frame is at or after
the clip's first frame, its first frame at or before the clip's last); an alert whose window
overlaps no fall clip is *false*. The delay of a detected fall is the wall time of its first alert
minus the wall time at which the camera read the fall clip's last frame (for a --realtime run; in a
batch run the camera reads far ahead of the workers and the delay is queueing, not detection).
"""
import argparse
import csv
import json
import os
import statistics


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--alert", default="1/2")
    parser.add_argument("--cool-down", type=float, default=10)
    args = parser.parse_args()
    run = args.run
    labels = lines(os.path.join(run, "labels.jsonl"))
    falls = [c for c in labels if c["label"] == "fall"]
    camera = [e for e in lines(os.path.join(run, "camera.jsonl")) if e["event"] == "window"]
    station = lines(os.path.join(run, "station.jsonl"))
    windows = [e for e in station if e["event"] == "window"]
    alerts = [e for e in station if e["event"] == "alert"]
    missing = [e for e in station if e["event"] == "missing"]
    workers = []
    for name in sorted(os.listdir(run)):
        if name.startswith("worker-") and name.endswith(".jsonl"):
            workers += lines(os.path.join(run, name))
    results = [e for e in workers if e["event"] == "result"]

    # throughput: windows decided per second, from the first result to the last
    first = min(e["wall"] - e["seconds"] for e in results)
    last = max(e["wall"] for e in results)
    print(f"windows        {len(windows)} decided, {len(missing)} missing, {len(results)} results "
          f"({len(set((e['camera'], e['sequence']) for e in results))} distinct), "
          f"{sum(1 for e in workers if e['event'] == 'failed')} failed jobs")
    print(f"throughput     {len(results) / (last - first):.3f} windows/s with {args.workers} worker(s) × {args.threads} thread(s) "
          f"({last - first:.1f} s); per job {statistics.median(e['seconds'] for e in results):.3f} s median")
    print(f"camera         {statistics.median(e['seconds'] for e in camera) * 1000:.1f} ms per window (encrypt, sign, spool), median")

    # delay and alerts: the camera's clock ↔ wall, from each window's last frame
    origin = min(e["wall"] - e["seconds"] - e["end"] for e in camera)
    def wall_of(t):
        return origin + t
    window_frames = 32 / args.fps

    def evaluate(alert_list):
        detected, delays, false = set(), [], 0
        for alert in alert_list:
            end, start = alert["time"], alert["time"] - (window_frames - 1 / args.fps)
            hit = [f for f in falls if end >= f["start"] and start <= f["end"]]
            if not hit:
                false += 1
            for f in hit:
                if f["clip"] not in detected:
                    detected.add(f["clip"])
                    if "wall" in alert:
                        delays.append(alert["wall"] - wall_of(f["end"]))
        return detected, delays, false

    # the windows that coincide with a whole clip are the plaintext network's clip decisions
    starts = {round(c["start"], 3): c for c in labels}
    aligned = [(starts[round(w["start"], 3)], w) for w in windows if "start" in w and round(w["start"], 3) in starts]
    fall_aligned = [(c, w) for c, w in aligned if c["label"] == "fall"]
    correct = sum(1 for c, w in aligned if c["label"] == w["class"])
    print(f"clips          {len(aligned)} windows coincide with a whole clip: {correct} say its label "
          f"({100 * correct / max(1, len(aligned)):.1f} %); of the {len(fall_aligned)} falls, {sum(1 for _, w in fall_aligned if w['fall'])} say fall; "
          f"{sum(1 for c, w in aligned if c['label'] != 'fall' and w['fall'])} non-falls say fall")

    detected, delays, false = evaluate(alerts)
    print(f"falls          {len(falls)} in the stream; alerts {len(alerts)} ({args.alert}): "
          f"{len(detected)} detected, {len(falls) - len(detected)} missed, {false} false")
    if delays:
        print(f"delay          last frame of the fall → alert: median {statistics.median(delays):.2f} s, "
              f"min {min(delays):.2f} s, max {max(delays):.2f} s")

    # other rules on the same decisions (offline: the station's window decisions replayed)
    print("rules          k/n: detected / missed / false alerts (cool-down %.0f s), replayed on this run's decisions" % args.cool_down)
    for rule in ["1/1", "1/2", "2/2", "2/3", "2/4", "3/4"]:
        k, n = map(int, rule.split("/"))
        recent, last_alert, replay = [], None, []
        for w in windows:
            recent = (recent + [w["fall"]])[-n:]
            if sum(recent) >= k and (last_alert is None or w["time"] - last_alert >= args.cool_down):
                last_alert = w["time"]
                replay.append({"time": w["time"]})
        d, _, f = evaluate(replay)
        print(f"               {rule}: {len(d)} / {len(falls) - len(d)} / {f}")

    # memory: first and last minute, and the peak, per process
    rss = {}
    with open(os.path.join(run, "rss.csv")) as f:
        for row in csv.DictReader(f):
            rss.setdefault(row["process"], []).append((float(row["time"]), int(row["rss_kb"]) / 1024))
    for name, samples in sorted(rss.items()):
        start = samples[0][0]
        early = [m for t, m in samples if t - start <= 60]
        late = [m for t, m in samples if samples[-1][0] - t <= 60]
        print(f"memory         {name:9s} {len(samples)} samples over {samples[-1][0] - start:.0f} s: "
              f"first minute {max(early):.0f} MB, last minute {max(late):.0f} MB, peak {max(m for _, m in samples):.0f} MB")


if __name__ == "__main__":
    main()
