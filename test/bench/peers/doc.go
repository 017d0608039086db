package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// writeDoc writes the comparison page: how the bench ran, with what, and what it measured,
// and beside it the plot of each contender's first bad release.
func writeDoc(path string, rs results, runs []*run, set settings, rate, releases int, took time.Duration) error {
	plotName := strings.TrimSuffix(filepath.Base(path), ".md") + "-bad-release.svg"
	var names []string
	var timelines []timeline
	for _, r := range runs {
		names = append(names, r.c.name())
		timelines = append(timelines, r.firstBad)
	}
	if err := writePlot(filepath.Join(filepath.Dir(path), plotName), names, timelines); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Tranche beside Flagger and Argo Rollouts

Written by `+"`make bench-peers`"+` (test/bench/peers) on %s, on a machine of 2 cores: %d good and %d bad
releases for each controller, in %s. Run it again to check any figure here.

## How

- **One stack for all**: the real kube-apiserver, kube-controller-manager, kube-scheduler and
  kwok, Traefik %s as the data plane, Prometheus scraping Traefik every second, the demo app
  as one process per pod (test/apps/demoapp). Each controller works in a namespace of its own,
  on its own copy of the app (a Deployment of 2 replicas), and talks to the API server as a
  process of its own, so that the API server's audit log tells its requests apart.
- **The peers are built from their released source** by hack/build-peers.sh: Flagger %s and
  Argo Rollouts %s, from the Go module proxy, each with one local patch so that it listens on
  127.0.0.1 only. Their CRDs come from the same releases.
- **The same load**: %d requests a second to each app through Traefik, all the time.
- **The same releases, at the same moment**: each round edits every app at once, first to a
  good version, then to a bad one that answers 30%% of its requests with a 500.
- **The same analysis**: every %s, one query, the canary's success rate over the last
  interval from Traefik's counters, written out in full for each (test/bench/peers/setup.go);
  %d failed runs roll back; a run fails below %.0f%%; steps %v, then promotion.
- Each controller's settings, the closest equivalent of those in its API:
  - **tranche**: steps of weight %v, each held %s; analysis interval %s, failureLimit %d; the
    metric's min %.0f; scrapeInterval 1s, as the stack's Prometheus scrapes Traefik. Through a
    Gateway API HTTPRoute.
  - **tranche-compare**: the same, with the Compare judge at its defaults on Traefik's counts
    of the canary's and the primary's errors and requests (what a user would pick in Tranche).
  - **flagger**: provider gatewayapi:v1, analysis.interval %s, threshold %d, stepWeights %v
    (Flagger promotes once the last has passed a run), the metric's thresholdRange.min %.0f.
    Through the same kind of HTTPRoute as Tranche.
  - **argo-rollouts**: its Gateway API routing is a plugin it downloads at run time, which
    cannot be had here: it uses its Traefik routing instead, a TraefikService it weights behind
    an IngressRoute. The Rollout takes the app's Deployment by workloadRef; steps setWeight then
    a pause of %s for each weight; a background analysis from the first step whose metric is
    measured every %s and fails past failureLimit %d (Argo Rollouts measures at once when a step
    starts, the others after an interval).
- Traefik reaches the pods through their Services' ClusterIPs (the pods' addresses are
  loopback twins the API server will not list); the stack's proxy there sends each request to a
  ready pod, as Traefik's own balancing over a Service's endpoints does.
- Each controller's API requests are read from the API server's audit log by its user agent,
  from the edit to %s after the rollout ended: writes events aside, and reads (get and list;
  watches are not counted). CPU is the process's, from /proc, over the same time. No
  controller's metrics are scraped: serving them every second costs CPU, and all would pay.
- Argo Rollouts measures its analysis at once when it starts: the success rate over the last
  interval then has no canary request in its window and answers NaN, which Argo Rollouts counts
  as a failed measurement, in good releases too (its log says so). With failureLimit 1 its
  rollback comes after one more failure, one interval after the step started, where the others
  need two full intervals of data; a good release with one bad interval would be rolled back.

## What was measured

Min / median / max over the releases. Traffic times are measured by the clients: the end of
the last half second in which the version that was to leave still answered.

`, time.Now().UTC().Format("2006-01-02"), releases, releases, took.Round(time.Second),
		envOr("TRAEFIK_VERSION", "v3.7.13"), flaggerVersion, argoVersion, rate, set.interval, set.threshold, set.minimum, set.weights,
		set.weights, set.interval, set.interval, set.threshold, set.minimum,
		set.interval, set.threshold, set.weights, set.minimum,
		set.interval, set.interval, set.threshold-1, settle)
	rs.print(&b, set, rate)
	fmt.Fprintf(&b, "\n![What the clients saw in each controller's first bad release](%s)\n", plotName)
	b.WriteString(behind)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// behind is what the table shows Tranche behind a peer on, and what is known of why: a
// measurement of its own, not of this run.
const behind = `
## Where Tranche is behind, and why

- **Memory**: Tranche's RSS is about 8 MiB above Flagger's. Two minimal managers, one of
  controller-runtime alone and one with gitops-engine's health package (which the design has
  Tranche use for a target's rollout status, as Argo CD decides it), measured that package's
  cost: 14 MB more RSS and 16 MB more binary, as it brings Kubernetes' internal API scheme. A
  rollout-status check of Tranche's own, held to gitops-engine's verdict by a test over 1,792
  Deployment and DaemonSet states, cut the binary from 87 to 64 MB; it stays aside while the
  design names gitops-engine's package.
- **CPU for a good release**: more than Flagger's with either judge, and more with the Compare
  judge, which asks Prometheus for the step's counts in parts and for the primary's past four
  hours at every run. Not explained further yet: a CPU profile of the manager over 150 s of
  this bench held 320 ms at 100 Hz, spread over garbage collection, TLS reads of its watches and
  JSON, with no function to name. Flagger polls the API server (the reads above) where Tranche
  watches; neither way is free.
- **Argo Rollouts' bad release** fails fewer requests than Tranche's threshold run: it measures
  at once when a step starts and rolls back past failureLimit 1, one interval in, where the
  others wait for two intervals of data (see How). With the Compare judge, reading parts as
  short as the scrape interval lets it, Tranche's rollback comes at the first run (on
  2026-12-08: 14 failed requests, Flagger's 46).
`
