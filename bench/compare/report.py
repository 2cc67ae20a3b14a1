"""Medians over rounds, the ratio lines, and the PNG chart of the ratios."""

from __future__ import annotations

import statistics
from pathlib import Path

SERVERS = ("pyimapd", "dovecot", "pymap")
# Lower is better for these; for the others (ops_per_s, mb_per_s) higher is better.
LOWER_BETTER = ("p50_ms", "p99_ms", "cpu_ms_per_op", "peak_rss_mib", "select_p50_ms",
                "fetch_flags_p50_ms", "fetch_headers_p50_ms")
TARGETS = {"client_mix": 2.0, "large_mailbox": 1.5, "login_storm": 3.0}
SATURATED = 0.9


def progress(rnd: int, workload: str, server: str, out: dict) -> None:
    if "error" in out:
        print(f"  round {rnd + 1} {workload:<14} {server:<8} FAILED: {out['error']}",
              flush=True)
        return
    if "figures" not in out:
        print(f"  round {rnd + 1} {workload:<14} {server:<8} TIMEOUT after "
              f"{out['timeout_s']:.0f} s", flush=True)
        return
    f = out["figures"]
    busy = "  [load generator saturated]" if out["generator_cpu_share"] > SATURATED else ""
    if out.get("others_cpu_share", 0.0) > 0.1:
        busy += f"  [other servers busy: {out['others_cpu_share']:.0%} of a core]"
    print(f"  round {rnd + 1} {workload:<14} {server:<8} {f['ops_per_s']:9.1f} ops/s  "
          f"p50 {f['p50_ms']:8.1f} ms  cpu/op {f['cpu_ms_per_op']:8.2f} ms  "
          f"rss {f['peak_rss_mib']:7.1f} MiB  generator {out['generator_cpu_share']:.0%}{busy}",
          flush=True)


def summarise(results: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, dict]]:
    """``{workload: {figure: {server: median, ratio_dovecot, ratio_pymap}}}`` plus, per
    workload, ``_saturated``: the servers whose runs saturated the generator."""
    summary: dict[str, dict[str, dict]] = {}
    for workload, by_server in results.items():
        figures: dict[str, dict] = {}
        names: list[str] = []
        for runs in by_server.values():
            for r in runs:
                for k in r.get("figures", {}):
                    if k not in names:
                        names.append(k)
        for fig in names:
            row: dict[str, float | None] = {}
            for server in SERVERS:
                values = [r["figures"][fig] for r in by_server.get(server, [])
                          if "figures" in r]
                row[server] = statistics.median(values) if values else None
            for other in ("dovecot", "pymap"):
                a, b = row["pyimapd"], row[other]
                row[f"ratio_{other}"] = a / b if a is not None and b else None
            figures[fig] = row
        figures["_timeouts"] = {  # servers that never finished this workload in time
            s: max(r.get("timeout_s", 0.0) for r in runs) for s, runs in by_server.items()
            if runs and all("figures" not in r for r in runs)}
        figures["_saturated"] = {"servers": sorted(
            s for s, runs in by_server.items()
            if any(r.get("generator_cpu_share", 0) > SATURATED for r in runs))}
        summary[workload] = figures
    return summary


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def print_table(summary: dict[str, dict[str, dict]]) -> None:
    print("\nWORKLOAD FIGURE medians (ratio = pyimapd / other; for ops_per_s and mb_per_s "
          "higher is better, for the rest lower is better)")
    for workload, figures in summary.items():
        for fig, row in figures.items():
            if fig.startswith("_"):
                continue
            timeouts = figures["_timeouts"]
            shown = {s: (f"timeout>{timeouts[s]:.0f}s" if row[s] is None and s in timeouts
                         else _fmt(row[s])) for s in SERVERS}
            print(f"{workload} {fig} pyimapd={shown['pyimapd']} "
                  f"dovecot={shown['dovecot']} pymap={shown['pymap']} "
                  f"ratio_dovecot={_fmt(row['ratio_dovecot'])} "
                  f"ratio_pymap={_fmt(row['ratio_pymap'])}")
        saturated = figures["_saturated"]["servers"]
        if saturated:
            print(f"{workload}: the load generator was saturated (>{SATURATED:.0%} of a core) "
                  f"in runs against {', '.join(saturated)}; those figures are a lower bound")
    print("\ntargets (server CPU per operation, pyimapd / Dovecot):")
    for workload, target in TARGETS.items():
        row = summary.get(workload, {}).get("cpu_ms_per_op")
        if row is None:
            continue
        ratio = row["ratio_dovecot"]
        verdict = "n/a" if ratio is None else ("met" if ratio <= target else "MISSED")
        vs_pymap = row["ratio_pymap"]
        pymap_timeout = summary[workload]["_timeouts"].get("pymap")
        if vs_pymap is None and pymap_timeout is not None and row["pyimapd"] is not None:
            against = f"pymap did not finish in {pymap_timeout:.0f} s (better)"
        else:
            better = vs_pymap is not None and vs_pymap < 1
            against = f"{_fmt(vs_pymap)} ({'better' if better else 'NOT better'})"
        print(f"  {workload:<14} {_fmt(ratio):>6} (target <= {target})  {verdict}; "
              f"vs pymap {against}")


def chart(summary: dict[str, dict[str, dict]], path: Path) -> Path | None:
    """Bars of pyimapd/Dovecot and pyimapd/pymap for CPU per op and p50 latency, log
    scale, with the 1.0 line. Returns None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart")
        return None
    labels, bars = [], {"dovecot": [], "pymap": []}
    for workload, figures in summary.items():
        for fig in ("cpu_ms_per_op", "p50_ms"):
            if fig in figures:
                labels.append(f"{workload}\n{fig}")
                for other in bars:
                    bars[other].append(figures[fig][f"ratio_{other}"] or float("nan"))
    fig_, ax = plt.subplots(figsize=(max(8, len(labels) * 0.9), 5))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], bars["dovecot"], 0.4, label="pyimapd / Dovecot")
    ax.bar([x + 0.2 for x in xs], bars["pymap"], 0.4, label="pyimapd / pymap")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylabel("ratio (lower is better for pyimapd)")
    ax.set_title("pyimapd relative to Dovecot and pymap (medians)")
    ax.legend()
    fig_.tight_layout()
    fig_.savefig(path, dpi=100)
    plt.close(fig_)
    return path
