// Command peers runs Tranche beside its peers (Flagger and Argo Rollouts, built from their
// released source by hack/build-peers.sh) on one stack: the real API server, kube-controller-manager and kwok,
// Traefik, Prometheus and the demo app, each controller in a namespace of its own with its own
// app, the same steady load through Traefik and the same analysis. It releases a good and a
// bad version several times, at the same moment for all, and prints what each controller
// did: how soon traffic moved, the requests that failed, its API requests, CPU and memory.
// Run it with `make bench-peers`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tranche-dev/tranche/test/stack"
)

func main() {
	manager := flag.String("manager", "bin/tranche", "The Tranche manager binary.")
	demoApp := flag.String("demoapp", "bin/demoapp", "The demo app binary.")
	peers := flag.String("peers", "bin/peers", "The folder hack/build-peers.sh built the peers in.")
	releases := flag.Int("releases", 3, "Good and bad releases each controller makes (one of each a round).")
	rate := flag.Int("rate", 100, "Requests a second each app gets through the gateway.")
	interval := flag.Duration("interval", 10*time.Second, "Every controller's analysis interval, and each step's hold.")
	dir := flag.String("dir", "", "Where the logs go (default: a new temporary folder).")
	only := flag.String("peer", "", "Run Tranche beside this peer alone (flagger or argo-rollouts), not both.")
	compare := flag.Bool("compare", true, "Run Tranche a second time, with its Compare judge at its defaults.")
	pprof := flag.String("pprof", "", "Have Tranche's manager serve Go's profiles at this address (127.0.0.1:6060), to profile it while the bench runs.")
	doc := flag.String("doc", "", "Write the comparison page there (docs/comparison.md), with its plot beside it.")
	flag.Parse()
	var managerArgs []string
	if *pprof != "" {
		managerArgs = append(managerArgs, "--pprof-bind-address="+*pprof)
	}
	if err := bench(*manager, *demoApp, *peers, *dir, *only, *doc, managerArgs, *compare, *releases, *rate, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

func bench(manager, demoApp, peers, dir, only, doc string, managerArgs []string, compare bool, releases, rate int, interval time.Duration) error {
	started := time.Now()
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tranche-bench-peers-"); err != nil {
			return err
		}
	}
	peers, err := filepath.Abs(peers)
	if err != nil {
		return err
	}
	fmt.Println("bench-peers: logs in", dir)
	st, err := stack.Start(stack.Options{
		Manager: manager, DemoApp: demoApp, Namespace: "bench-tranche", Dir: dir,
		CRDDirectories: []string{filepath.Join(peers, "flagger-"+flaggerVersion, "crds"), filepath.Join(peers, "argo-rollouts-"+argoVersion, "crds")},
		AuditPolicy:    auditPolicy,
		// Argo Rollouts moves its Services' selectors between ReplicaSets that go on running:
		// per connection, Traefik's kept-alive connections would stay with the pods they
		// reached first. Traefik sends each request to a Service's endpoints by default; the
		// stack reaches pods through their ClusterIPs, so its proxies play that part.
		PerRequest:  true,
		ManagerArgs: managerArgs,
		// No controller's metrics are scraped: each would spend CPU on it.
		UnscrapedManager: true,
	})
	if err != nil {
		return fmt.Errorf("starting the stack: %w", err)
	}
	defer func() { _ = st.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := openGateway(ctx, st); err != nil {
		return err
	}
	s := &setup{stack: st, peers: peers, dir: dir, settings: settings{
		interval: interval, threshold: 2, weights: []int32{5, 50}, minimum: 99,
	}}
	contenders := []contender{tranche{ns: st.Namespace}}
	if compare {
		contenders = append(contenders, tranche{ns: "bench-compare", compare: true})
	}
	for _, peer := range []contender{flagger{ns: "bench-flagger"}, argo{ns: "bench-argo"}} {
		if only == "" || only == peer.name() {
			contenders = append(contenders, peer)
		}
	}
	runs := make([]*run, len(contenders))
	for i, c := range contenders {
		if runs[i], err = prepare(ctx, s, c, rate); err != nil {
			return fmt.Errorf("%s: %w", c.name(), err)
		}
	}
	for round := range releases {
		for _, bad := range []bool{false, true} {
			version, args := fmt.Sprintf("v%d", 2*round+2), []string(nil)
			if bad {
				version, args = fmt.Sprintf("v%d", 2*round+3), []string{"--error-rate=0.3"}
			}
			if err := releaseAll(ctx, s, runs, version, args, bad); err != nil {
				return err
			}
		}
	}
	// The idle minute after the last rollout, a rolled-back one: what each asks of the API
	// server while nothing happens.
	idleFrom := time.Now()
	time.Sleep(idleMinute)
	for _, r := range runs {
		if r.idle, err = requests(s, r.c, idleFrom, time.Now()); err != nil {
			return err
		}
	}
	results := summarize(runs)
	results.print(os.Stdout, s.settings, rate)
	if doc != "" {
		return writeDoc(doc, results, runs, s.settings, rate, releases, time.Since(started))
	}
	return nil
}

// releaseAll releases version to every contender's app at once and measures each rollout.
func releaseAll(ctx context.Context, s *setup, runs []*run, version string, args []string, bad bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(runs))
	for i, r := range runs {
		wg.Go(func() { errs[i] = r.release(ctx, s, version, args, bad) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s, release %s: %w", runs[i].c.name(), version, err)
		}
	}
	return nil
}

// idleMinute is how long the bench watches the controllers do nothing after the last rollout.
const idleMinute = time.Minute

// auditPolicy logs the metadata of the requests the bench counts, and none of those the
// cluster's own controllers and kubelets make by the thousand.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: None
  resources:
  - {group: "", resources: [nodes, nodes/status]}
  - {group: coordination.k8s.io, resources: [leases]}
- level: None
  verbs: [watch]
- level: Metadata
`

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
