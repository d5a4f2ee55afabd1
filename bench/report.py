#!/usr/bin/env python3
"""report.py - turns the figures run.sh collected into the results table.

    report.py RESULTS

RESULTS holds "key=value" lines: the machine's description and, for each
figure, "berth.KEY" and "registry.KEY".  Prints a Markdown document (a
table a terminal shows readably too): workload, berth, docker-registry,
berth's advantage and the target.  The advantage is always "how many times
better berth is": requests per second and GB/s divided by registry:2's,
seconds and memory divided the other way.  Exits 0; the last line counts
the targets met, and with --strict the exit status is 2 if one is missed.
"""

import sys

GB = 1e9


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                res[key] = value
    return res


def num(res, key):
    v = res.get(key)
    return float(v) if v not in (None, "") else None


def secs(v):
    if v is None:
        return "-"
    if v < 0.01:
        return "%.3f ms" % (v * 1e3)
    return "%.3g s" % v


def fmt_ratio(r):
    return "-" if r is None else ("%.3gx" % r)


class Table:
    def __init__(self, res):
        self.res = res
        self.rows = []
        self.met = self.targets = 0

    def add(self, name, b, d, ratio, target, need):
        """NEED is the least advantage that meets the target, or None."""
        ok = "-"
        if need is not None:
            self.targets += 1
            good = ratio is not None and ratio >= need
            self.met += good
            ok = "yes" if good else "**NO**"
        self.rows.append((name, b, d, fmt_ratio(ratio), target, ok))

    def rate(self, name, key, unit, target, need, scale=1.0, digits="%.0f",
             compare=True):
        """COMPARE False for a condition measured beside each server,
        where a ratio would mean nothing."""
        b = num(self.res, "berth." + key)
        d = num(self.res, "registry." + key)
        ratio = b / d if b and d and compare else None
        show = (lambda v: "-" if v is None else
                (digits % (v / scale)) + " " + unit)
        self.add(name, show(b), show(d), ratio, target, need)

    def time(self, name, key, target, need, note=""):
        b = num(self.res, "berth." + key)
        d = num(self.res, "registry." + key)
        ratio = d / b if b and d else None
        self.add(name, secs(b), secs(d) + note, ratio, target, need)

    def paged(self, name, key, requests_key):
        """A walk of pages: compared only when both servers answered in
        as many requests, since a server that ignores n answers once."""
        b = num(self.res, "berth." + key)
        d = num(self.res, "registry." + key)
        nb = self.res.get("berth." + requests_key)
        nd = self.res.get("registry." + requests_key)
        if nb == nd:
            self.time(name, key, "-", None)
            return
        cell = "%s answers" % nb if nb else "-"
        self.add("%s (berth: %s)" % (name, cell), secs(b),
                 "%s (%s answer: n ignored)" % (secs(d), nd), None, "-",
                 None)

    def memory(self, name, key, target, need):
        b = num(self.res, "berth." + key)
        d = num(self.res, "registry." + key)
        ratio = d / b if b and d else None
        mib = (lambda v: "-" if v is None else "%.1f MiB" % (v / 1024))
        self.add(name, mib(b), mib(d), ratio, target, need)

    def share(self, name, key, base, base_name, target, need):
        """Berth's GB/s as a share of a baseline figure BASE (bytes/s)."""
        b = num(self.res, "berth." + key)
        d = num(self.res, "registry." + key)
        pct = (lambda v: "-" if v is None or not base else
               "%.0f%%" % (100 * v / base))
        ratio = b / base if b and base else None
        self.add("%s (%s %.2f GB/s)" % (name, base_name, base / GB),
                 pct(b), pct(d), ratio, target, need)

    def relative(self, name, key, base):
        """Each server's KEY as a share of its own BASE figure."""
        cells = []
        for who in ("berth", "registry"):
            v, b = num(self.res, who + "." + key), num(self.res,
                                                       who + "." + base)
            cells.append("%.0f%%" % (100 * v / b) if v and b else "-")
        self.add(name, cells[0], cells[1], None, "-", None)

    def print(self, out):
        head = ("workload", "berth", "docker-registry",
                "berth advantage", "target", "met?")
        out.write("| " + " | ".join(head) + " |\n")
        out.write("|" + "|".join("---" for _ in head) + "|\n")
        for row in self.rows:
            out.write("| " + " | ".join(row) + " |\n")


def machine(res, out):
    out.write("Machine: %s CPUs, %s, Linux %s; load average %s at the "
              "start, %s at the end.\n" %
              (res.get("nproc"), res.get("cpu"), res.get("kernel"),
               res.get("load_start"), res.get("load_end")))
    out.write("Servers: %s (%s) and %s, same config.yml, logs at warn, "
              "access logs off, stores on tmpfs.  Clients: %s, curl %s, "
              "nginx %s, Python %s.\n" %
              (res.get("berth_version"), res.get("berth_rev"),
               res.get("registry_version"), res.get("wrk_version"),
               res.get("curl_version"), res.get("nginx_version"),
               res.get("python_version")))
    out.write("Run: %s, %s s in all.\n\n" %
              (res.get("date"), res.get("elapsed")))
    try:
        busy = max(float(res.get(k, "0").split()[0])
                   for k in ("load_start", "load_end"))
        cpus = int(res.get("nproc", "1"))
    except ValueError:
        busy, cpus = 0, 1
    if busy >= cpus / 2:
        out.write("**Other work competed for the CPUs during this run "
                  "(load average %.2f on %d CPUs): the figures are "
                  "noisy; rerun on an idle machine to keep them.**\n\n" %
                  (busy, cpus))


def build(res):
    t = Table(res)
    blob = num(res, "blob_bytes") or 0
    blob_name = "%.3g GiB" % (blob / 2**30)
    repos, tags = res.get("repos"), res.get("tags")
    sha = num(res, "sha256_bps") or 0
    nginx = num(res, "nginx.pull_bps") or 0
    copy = num(res, "nginx_copy.pull_bps") or 0

    t.rate("manifest GET by tag, keep-alive (wrk %s), req/s" %
           res.get("wrk_args"), "wrk_rps", "req/s", ">= 20x", 20)
    t.time("server CPU time per manifest GET (user + system)",
           "wrk_cpu_s", "-", None)
    t.time("%s blob push, monolithic (%s / %s), best of 2" %
           (blob_name, res.get("berth.push_flow"),
            res.get("registry.push_flow")), "push_s", ">= 5x", 5)
    t.rate("%s blob push, best of 2, GB/s" % blob_name, "push_bps", "GB/s",
           "-", None, GB, "%.2f")
    t.share("blob push vs one core's SHA-256", "push_bps", sha,
            "openssl", "berth >= 70%", 0.70)
    t.time("server CPU time per push (user + system)", "push_cpu_s",
           "-", None)
    t.relative("blob push vs its dd write into tmpfs", "push_bps",
               "tmpfs_bps")
    t.rate("%s write into tmpfs with dd, just before the push, GB/s" %
           blob_name, "tmpfs_bps", "GB/s", "-", None, GB, "%.2f", False)
    t.rate("%s blob pull (curl), best of 5, GB/s" % blob_name,
           "pull_bps", "GB/s",
           ">= 1x", 1.0, GB, "%.2f")
    t.time("server CPU time per pull (user + system)", "pull_cpu_s",
           "-", None)
    t.share("blob pull vs nginx sendfile", "pull_bps", nginx,
            "nginx", "berth >= 90%", 0.90)
    t.share("blob pull vs nginx without sendfile", "pull_bps", copy,
            "nginx", "-", None)
    t.time("catalog, all %s repositories, n=100 following Link" % repos,
           "catalog_walk_s", ">= 20x", 20)
    t.time("catalog, the page after 90%", "catalog_page_s", ">= 20x", 20)
    # registry:2 ignores n and last on the tags list: its walk is one
    # answer of every tag, so the like-for-like figure is the whole list
    # in one answer from both, and berth's walk of 100 pages stands beside
    # it without a ratio.
    t.time("tags list, all %s tags in one answer (no n), wrk" % tags,
           "tags_all_s", ">= 20x", 20)
    t.paged("tags list, all %s tags, n=100 following Link, wrk" % tags,
            "tags_walk_s", "tags_walk_py_requests")
    page_note = ""
    if res.get("registry.tags_page_py_entries") not in (None, "100"):
        page_note = " (%s tags: n, last ignored)" % \
            res.get("registry.tags_page_py_entries")
    t.time("tags list, the page after 90%, wrk", "tags_page_s", ">= 20x",
           20, page_note)
    t.time("tags list, all %s in one answer, timed by pager.py (Python)" %
           tags, "tags_all_py_s", "-", None)
    t.memory("resident memory, idle after start", "rss_idle_kb",
             ">= 5x", 5)
    t.memory("resident memory, after the pushes", "rss_push_kb",
             ">= 5x", 5)
    t.memory("of that, the process's own (RssAnon), idle", "anon_idle_kb",
             "-", None)
    t.memory("of that, the process's own (RssAnon), after the pushes",
             "anon_push_kb", "-", None)
    t.memory("peak resident memory (VmHWM), pushes and pulls",
             "hwm_kb", "-", None)
    t.time("start-up on the listing store, to the first 200",
           "list_ready_s", "-", None)
    return t


def main():
    args = [a for a in sys.argv[1:] if a != "--strict"]
    if len(args) != 1:
        sys.exit("usage: report.py [--strict] RESULTS")
    res = load(args[0])
    t = build(res)
    out = sys.stdout
    machine(res, out)
    t.print(out)
    out.write("\n%d of %d targets met.\n" % (t.met, t.targets))
    if "--strict" in sys.argv and t.met < t.targets:
        sys.exit(2)


if __name__ == "__main__":
    main()
