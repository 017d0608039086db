// Command demo shows Tranche at work on one machine, with no cluster: it starts a real API
// server, Traefik as the gateway, Prometheus and the Tranche manager, puts the demo app
// behind a canary Rollout with steady traffic through the gateway, then releases a healthy
// version (promoted step by step) and a failing one (rolled back at the first step), and
// writes a report with the plots of both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/test/stack"
)

const (
	namespace = "demo"
	app       = "podinfo"
	hostname  = "podinfo.demo.test"
)

type options struct {
	manager, demoApp, out string
	keep                  bool
	rate                  int
	hold, interval        time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.manager, "manager", "bin/tranche", "The Tranche manager binary.")
	flag.StringVar(&o.demoApp, "demoapp", "bin/demoapp", "The demo app binary.")
	flag.StringVar(&o.out, "out", ".", "Folder the report is written to.")
	flag.BoolVar(&o.keep, "keep", false, "Keep everything running after the releases, until Ctrl-C, to explore with kubectl.")
	flag.IntVar(&o.rate, "rate", 200, "Requests per second sent through the gateway.")
	flag.DurationVar(&o.hold, "hold", 10*time.Second, "How long each step holds.")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "How often the canary is analysed.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the demo stops what it started; a second one ends it at once
		// (the servers it started then die with it, but for the API server and etcd).
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "tranche-demo-")
	if err != nil {
		return err
	}
	say("Starting kube-apiserver, etcd, Traefik, Prometheus and the Tranche manager")
	s, err := stack.Start(stack.Options{Manager: o.manager, DemoApp: o.demoApp, Namespace: namespace, Dir: dir})
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping everything")
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping:", err)
		}
	}()
	fmt.Printf("    API server   %s (kubeconfig %s)\n", s.ControlPlane.Config.Host, s.Kubeconfig)
	fmt.Printf("    gateway      %s (Host: %s)\n", s.Traefik.WebURL(), hostname)
	fmt.Printf("    Traefik API  %s/api/http/services, metrics %s\n", s.Traefik.APIURL(), s.Traefik.MetricsURL())
	fmt.Printf("    Prometheus   %s\n", s.Prometheus.URL())
	fmt.Printf("    logs         %s\n", dir)

	c := s.ControlPlane.Client
	say(fmt.Sprintf("Deploying %s v1 behind a canary Rollout (steps 5%% / 50%% / 100%%, %s each, analysis every %s: thresholds and the Compare judge)", app, o.hold, o.interval))
	slack, err := stack.StartSlackReceiver()
	if err != nil {
		return err
	}
	defer slack.Close()
	// Beside the threshold checks, the Compare judge on Traefik's counters: it compares the
	// canary's errors with the primary's over the same traffic, and decides when the
	// evidence allows; the report says what each decided and when.
	template := stack.TraefikCompareTemplate(namespace, app)
	if err := c.Create(ctx, template); err != nil {
		return err
	}
	ro := stack.CanaryRollout(namespace, app, hostname, o.hold, o.interval)
	ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, trancheapi.Metric{
		Name: "errors-compared", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name}, Judge: trancheapi.JudgeCompare,
		// The demo's canary serves 10 requests a second at 5%: half the default's 100 lets
		// the judge speak within the demo's short holds.
		Compare: &trancheapi.CompareSpec{MinRequests: ptr.To[int32](50)},
	})
	if err := slack.Subscribe(ctx, c, ro); err != nil {
		return err
	}
	if err := c.Create(ctx, stack.App(namespace, app, "v1")); err != nil {
		return err
	}
	if err := c.Create(ctx, ro); err != nil {
		return err
	}
	if _, err := stack.WaitForPhase(ctx, c, namespace, app, time.Minute, trancheapi.PhaseInitialized); err != nil {
		return err
	}
	if err := stack.WaitServed(ctx, s.Traefik.WebURL(), hostname, 30*time.Second); err != nil {
		return err
	}
	fmt.Printf("    Initialized: v1 serves all traffic; sending %d requests a second through the gateway\n", o.rate)
	load := stack.StartLoad(ctx, s.Traefik.WebURL(), hostname, o.rate)

	good, err := release(ctx, s, load, "v2 (healthy)", trancheapi.PhaseSucceeded, "v2")
	if err != nil {
		return err
	}
	bad, err := release(ctx, s, load, "v3 (30% errors)", trancheapi.PhaseFailed, "v3", "--error-rate=0.3")
	if err != nil {
		return err
	}
	if err := printEvents(ctx, c, bad.since); err != nil {
		return err
	}

	printSlack(ctx, slack)

	htmlPath, pngPath, err := stack.WriteReport(o.out, []stack.Trace{good.trace, bad.trace})
	if err != nil {
		return err
	}
	say("Report: " + htmlPath + " (plot: " + pngPath + ")")
	if o.keep {
		say("Everything keeps running; press Ctrl-C to stop")
		fmt.Printf("    export KUBECONFIG=%s PATH=\"$PWD/bin:$PATH\"\n", s.Kubeconfig)
		fmt.Printf("    kubectl -n %s get rollouts,deployments,services,httproutes\n", namespace)
		fmt.Printf("    kubectl tranche -n %s get %s -w\n", namespace, app)
		fmt.Printf("    kubectl tranche -n %s dashboard   # then open the address it prints\n", namespace)
		<-ctx.Done()
	}
	report, _ := filepath.Abs(htmlPath)
	fmt.Printf("DEMO promoted=%s rolled_back=%s report=%s\n", good.revision, bad.revision, report)
	return nil
}

// outcome is how a release ended.
type outcome struct {
	trace    stack.Trace
	revision string
	since    time.Time
}

// release rolls out a version, printing the progress every second, and waits for the
// Rollout to end; it is an error if it ends other than want.
func release(ctx context.Context, s *stack.Stack, load *stack.Load, title string, want trancheapi.Phase, version string, args ...string) (outcome, error) {
	say("Releasing " + title)
	since := time.Now()
	c := s.ControlPlane.Client
	before := &trancheapi.Rollout{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, before); err != nil {
		return outcome{}, err
	}
	if err := stack.Release(ctx, c, namespace, app, version, args...); err != nil {
		return outcome{}, err
	}
	rec := &stack.Recorder{
		Client: c, Namespace: namespace, Rollout: app, Target: app,
		MetricsURL: s.Traefik.MetricsURL(), Load: load, Period: 250 * time.Millisecond,
	}
	recording, stopRecording := context.WithCancel(ctx)
	recorded := make(chan struct{})
	defer stopRecording()
	go func() { rec.Run(recording, nil); close(recorded) }()

	fmt.Println("    time   phase            step  weight  measured  canary errors  clients failed")
	ended := []trancheapi.Phase{trancheapi.PhaseSucceeded, trancheapi.PhaseFailed, trancheapi.PhaseAborted}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		case <-tick.C:
		}
		samples := rec.Samples()
		if len(samples) == 0 {
			continue
		}
		last := samples[len(samples)-1]
		printProgress(since, samples)
		if last.Canary != before.Status.CanaryRevision && slices.Contains(ended, last.Phase) {
			stopRecording()
			<-recorded
			result := fmt.Sprintf("%s: %s", last.Phase, last.Message)
			fmt.Println("    " + result)
			fmt.Println("    What each check decided, in seconds since the release:")
			for _, m := range stack.DecisionsOf(rec.Samples()) {
				fmt.Println("      " + m.Summary())
			}
			if err := printView(ctx, c); err != nil {
				return outcome{}, err
			}
			if last.Phase != want {
				return outcome{}, fmt.Errorf("%s ended %s, not %s", title, last.Phase, want)
			}
			return outcome{trace: stack.Trace{Title: title, Outcome: result, Samples: rec.Samples()}, revision: last.Canary, since: since}, nil
		}
		if time.Since(since) > 5*time.Minute {
			return outcome{}, fmt.Errorf("%s has not ended after 5 minutes: %s", title, last.Message)
		}
	}
}

// printProgress prints the latest sample with what was measured over the last two seconds.
func printProgress(since time.Time, samples []stack.Sample) {
	last := samples[len(samples)-1]
	first := len(samples) - 1
	for first > 0 && last.At.Sub(samples[first-1].At) <= 2*time.Second {
		first--
	}
	w := stack.Between(samples[first], last)
	step := "-"
	if last.Phase == trancheapi.PhaseProgressing || last.Phase == trancheapi.PhaseWaitingApproval {
		step = fmt.Sprintf("%d/%d", last.Step+1, last.Steps)
	}
	fmt.Printf("    %5.1fs %-16s %-5s %5d%%  %8s  %13s  %14d\n", last.At.Sub(since).Seconds(), last.Phase, step,
		last.Weight, pct(w.CanaryShare()), pct(w.CanaryErrorRate()), w.Clients.Failed)
}

func pct(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// printView prints the Rollout as `kubectl tranche get` shows it.
func printView(ctx context.Context, c client.Client) error {
	say("kubectl tranche get " + app)
	v, err := cli.LoadView(ctx, c, client.ObjectKey{Namespace: namespace, Name: app})
	if err != nil {
		return err
	}
	return cli.RenderView(os.Stdout, v, time.Now(), false)
}

// printSlack prints the messages the stand-in for Slack received, once the last ones have
// arrived (delivery is in the background).
func printSlack(ctx context.Context, slack *stack.SlackReceiver) {
	slack.WaitQuiet(ctx, time.Second, 10*time.Second)
	messages := slack.Messages()
	say(fmt.Sprintf("Slack messages the local receiver got (%d)", len(messages)))
	for _, m := range messages {
		fmt.Printf("    %s  %s\n", m.Color, m.Text)
	}
}

// printEvents prints the Rollout's events since a time, as `kubectl events` would.
func printEvents(ctx context.Context, c client.Client, since time.Time) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return err
	}
	slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	say("Events of the failed release")
	for _, e := range list.Items {
		if e.Regarding.Kind == "Rollout" && !e.EventTime.Time.Before(since.Truncate(time.Second)) {
			fmt.Printf("    %-7s %-20s %s\n", e.Type, e.Reason, e.Note)
		}
	}
	return nil
}

func say(msg string) { fmt.Printf("==> %s\n", msg) }
