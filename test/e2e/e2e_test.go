//go:build e2e

// Package e2e runs Tranche end to end on the demo's stack (see package stack): real
// requests through a real Traefik, split by the HTTPRoute the manager writes, judged by the
// real Prometheus. Run it with `make e2e`, which builds what the stack needs.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

const namespace = "e2e"

// requestsPerSecond is the load each test sends through the gateway: at 5% the canary gets
// ten a second, enough for the analysis to tell 30% errors from none.
const requestsPerSecond = 200

var s *stack.Stack

// logDir is where the stack, and what the tests start beside it, write their logs.
var logDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	manager, demoApp := os.Getenv("TRANCHE_MANAGER"), os.Getenv("DEMOAPP")
	if manager == "" || demoApp == "" {
		fmt.Fprintln(os.Stderr, "e2e: TRANCHE_MANAGER and DEMOAPP must name the built manager and demo app: run `make e2e`")
		return 1
	}
	dir, err := os.MkdirTemp("", "tranche-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if s, err = stack.Start(stack.Options{Manager: manager, DemoApp: demoApp, Namespace: namespace, Dir: dir, Istio: true}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the stack:", err)
		return 1
	}
	logDir = dir
	code := m.Run()
	stopArgoCD()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping the stack:", err)
	}
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: the stack's logs are in", dir)
	}
	return code
}

// deploy creates the app at v1 and its Rollout, waits until the Rollout is initialized and
// Traefik serves host, and starts the load on host; the load stops when the test ends.
func deploy(t *testing.T, ro *trancheapi.Rollout, host string) *stack.Load {
	t.Helper()
	return deployApp(t, ro, stack.App(namespace, ro.Name, "v1"), host)
}

// deployApp is deploy with an app of the test's own, a Deployment or a DaemonSet.
func deployApp(t *testing.T, ro *trancheapi.Rollout, app client.Object, host string) *stack.Load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	createInitialized(t, ro, app)
	require.NoError(t, stack.WaitServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	return stack.StartLoad(ctx, s.Traefik.WebURL(), host, requestsPerSecond)
}

// createInitialized creates the app and its Rollout, deletes both when the test ends, and
// waits until the Rollout is initialized.
func createInitialized(t *testing.T, ro *trancheapi.Rollout, app client.Object) {
	t.Helper()
	c := s.ControlPlane.Client
	require.NoError(t, c.Create(t.Context(), app))
	require.NoError(t, c.Create(t.Context(), ro))
	t.Cleanup(func() {
		// The Rollout hands traffic back to the primary and goes; then the app's processes.
		_ = c.Delete(context.Background(), ro)
		_ = c.Delete(context.Background(), app)
	})
	_, err := stack.WaitForPhase(t.Context(), c, namespace, ro.Name, time.Minute, trancheapi.PhaseInitialized)
	require.NoError(t, err)
}

// release changes the app's version, records until the Rollout ends and returns the
// samples and how it ended.
func release(t *testing.T, app string, load *stack.Load, version string, args ...string) ([]stack.Sample, *trancheapi.Rollout) {
	t.Helper()
	return releaseBy(t, app, load, func(ctx context.Context) error {
		return stack.Release(ctx, s.ControlPlane.Client, namespace, app, version, args...)
	})
}

// releaseBy is release with a change of the test's own: a new version is whatever change
// makes one.
func releaseBy(t *testing.T, app string, load *stack.Load, change func(context.Context) error) ([]stack.Sample, *trancheapi.Rollout) {
	t.Helper()
	return recordRelease(t, app, &stack.Recorder{Load: load, MetricsURL: s.Traefik.MetricsURL()}, change)
}

// recordRelease is releaseBy with what rec says to sample: the loads, and the data plane's
// counters from its MetricsURL, or none when it is "" (a mesh whose clients are the data
// plane).
func recordRelease(t *testing.T, app string, rec *stack.Recorder, change func(context.Context) error) ([]stack.Sample, *trancheapi.Rollout) {
	t.Helper()
	return recordUntil(t, app, rec, change, func(before *trancheapi.Rollout) *trancheapi.Rollout {
		return waitForEnd(t, app, before.Status.CanaryRevision, 3*time.Minute)
	})
}

// recordUntil records, with rec's loads and metrics, from before change until ended, given
// the Rollout as it was before the change, returns the Rollout as it ended, and then until
// the routes read back.
func recordUntil(t *testing.T, app string, rec *stack.Recorder, change func(context.Context) error,
	ended func(before *trancheapi.Rollout) *trancheapi.Rollout) ([]stack.Sample, *trancheapi.Rollout) {
	t.Helper()
	ctx := context.Background()
	rec.Client, rec.Namespace, rec.Rollout, rec.Target, rec.Period = s.ControlPlane.Client, namespace, app, app, 250*time.Millisecond
	recording, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { rec.Run(recording, nil); close(done) }()
	time.Sleep(300 * time.Millisecond) // a sample before the release
	before := &trancheapi.Rollout{}
	require.NoError(t, s.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, before))
	require.NoError(t, change(ctx))
	ro := ended(before)
	// A rollback ends the rollout and then routes all traffic back: wait until the routing
	// object reads back what was asked (status.routesSetAt is cleared then), and then two
	// seconds of what the clients see once the data plane has taken it. The checks of "after"
	// look at the last second or so: not at the switch itself, when a request may still go on
	// a kept-alive connection to a pod of the old version that is draining, as it may in any
	// cluster.
	require.Eventually(t, func() bool {
		return s.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(ro), ro) == nil && ro.Status.RoutesSetAt == nil
	}, 30*time.Second, 50*time.Millisecond, "the routes never read back after the rollout ended")
	time.Sleep(2 * time.Second)
	stop()
	<-done
	return rec.Samples(), ro
}

// waitForEnd waits until the Rollout of a revision other than previous is Succeeded, Failed
// or Aborted.
func waitForEnd(t *testing.T, app, previous string, limit time.Duration) *trancheapi.Rollout {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ro, err := stack.WaitForPhase(context.Background(), s.ControlPlane.Client, namespace, app, time.Until(deadline),
			trancheapi.PhaseSucceeded, trancheapi.PhaseFailed, trancheapi.PhaseAborted)
		require.NoError(t, err)
		if ro.Status.CanaryRevision != "" && ro.Status.CanaryRevision != previous {
			return ro
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertPromotedStepByStep checks a healthy release through the default steps as the data
// plane and the clients saw it: each step's measured canary share within 2 points of its
// weight, no client failure, and version answering everything once promoted. It returns
// what the clients saw during the release.
func assertPromotedStepByStep(t *testing.T, load *stack.Load, samples []stack.Sample, version string) stack.LoadCounts {
	t.Helper()
	shares := settledShares(samples)
	t.Logf("measured canary share by weight: %v", shares)
	assertSharesNear(t, shares, 2, "the data plane's split")
	whole := stack.Between(samples[0], samples[len(samples)-1]).Clients
	assert.Zero(t, whole.Failed, "clients saw failures during a healthy release:\n%s", stack.FailuresDuring(load, samples))
	after := stack.Between(samples[len(samples)-5], samples[len(samples)-1]).Clients
	assert.Equal(t, map[string]int{version: after.Sent}, after.ByVersion, "after promotion, %s answers everything", version)
	return whole
}

// assertSharesNear checks the measured canary share of each of the default steps' weights:
// within points of the weight.
func assertSharesNear(t *testing.T, shares map[int32]float64, points float64, whose string) {
	t.Helper()
	for _, weight := range []int32{5, 50, 100} {
		if assert.Contains(t, shares, weight, "no steady stretch at %d%%", weight) {
			assert.InDelta(t, float64(weight), shares[weight], points, "%s at %d%%", whose, weight)
		}
	}
}

// settledShares is the canary share the data plane measured in each step of a weight.
func settledShares(samples []stack.Sample) map[int32]float64 {
	shares := map[int32]float64{}
	for weight, w := range settledWindows(samples) {
		if w.Primary+w.Canary >= 100 {
			shares[weight] = w.CanaryShare()
		}
	}
	return shares
}

// settledWindows is each step of a weight, leaving out its first second, in which the data
// plane takes the new weight.
func settledWindows(samples []stack.Sample) map[int32]stack.Window {
	windows := map[int32]stack.Window{}
	for _, step := range stack.StepsOf(samples) {
		var settled []stack.Sample
		for _, s := range samples {
			if s.At.After(step.Window.From.At.Add(time.Second)) && !s.At.After(step.Window.To.At) {
				settled = append(settled, s)
			}
		}
		if len(settled) >= 2 {
			windows[step.Weight] = stack.Between(settled[0], settled[len(settled)-1])
		}
	}
	return windows
}

// firstAt is the first sample in the phase after the first sample, which was taken before
// the release (in the phase the previous release ended in), and its index.
func firstAt(samples []stack.Sample, phase trancheapi.Phase) (stack.Sample, int) {
	for i, s := range samples {
		if s.Phase == phase && i > 0 {
			return s, i
		}
	}
	return stack.Sample{}, -1
}

func TestGoodReleaseIsPromotedAndBadOneRolledBack(t *testing.T) {
	const app = "shop"
	ro := stack.CanaryRollout(namespace, app, "shop.e2e.test", 10*time.Second, 5*time.Second)
	ro.Spec.Analysis.VerifyTraffic = &trancheapi.VerifyTraffic{}
	subscribeForPanels(t, ro)
	load := deploy(t, ro, "shop.e2e.test")

	word := &stack.RouteWord{Client: s.ControlPlane.Client, Namespace: namespace, Name: app, Period: 20 * time.Millisecond}
	watching, stopWatching := context.WithCancel(context.Background())
	go word.Run(watching)
	good, ro := release(t, app, load, "v2")
	stopWatching()
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, "%s; the last checks: %+v", ro.Status.Message, ro.Status.LastChecks)
	whole := assertPromotedStepByStep(t, load, good, "v2")
	assert.Greater(t, whole.ByVersion["v2"], 0)
	requireTrafficChecksPassed(t, ro)
	median, longest := harness.MedianAndMax(word.Waits())
	fmt.Printf("BENCH e2e_dataplane_word_seconds_median=%.3f e2e_dataplane_word_seconds_max=%.3f e2e_dataplane_word_routes=%d\n",
		median.Seconds(), longest.Seconds(), len(word.Waits()))
	assert.GreaterOrEqual(t, len(word.Waits()), 3, "Traefik said each split of the steps")

	bad, ro := release(t, app, load, "v3", "--error-rate=0.3")
	during := requireRolledBackAtFirstStep(t, bad, ro, "v2")
	fmt.Printf("BENCH e2e_bad_requests=%d e2e_rollback_seconds=%.1f\n", during.Clients.Failed, during.To.At.Sub(during.From.At).Seconds())

	dir := reportDir(t)
	htmlPath, pngPath, err := stack.WriteReport(dir, []stack.Trace{
		{Title: "v2 (healthy)", Outcome: "promoted", Samples: good},
		{Title: "v3 (30% errors)", Outcome: "rolled back", Samples: bad},
	})
	require.NoError(t, err)
	fmt.Printf("REPORT html=%s png=%s\n", htmlPath, pngPath)

	checkReplay(t, app)
	// This rollout made every kind of series the Grafana dashboard shows; it still exists.
	checkGrafanaPanels(t, app)
}

// requireRolledBackAtFirstStep checks a bad release: rolled back before its second step, with
// clients seeing the canary fail meanwhile, and the stable version answering everyone after.
// It returns the window from the release to the rollback.
func requireRolledBackAtFirstStep(t *testing.T, bad []stack.Sample, ro *trancheapi.Rollout, stable string) stack.Window {
	t.Helper()
	require.Equal(t, trancheapi.PhaseFailed, ro.Status.Phase, ro.Status.Message)
	assert.NotContains(t, weightsOf(bad), int32(50), "rolled back at the first step")
	failed, i := firstAt(bad, trancheapi.PhaseFailed)
	require.GreaterOrEqual(t, i, 0)
	during := stack.Between(bad[0], failed)
	assert.Positive(t, during.Clients.Failed, "the bad canary failed requests")
	after := stack.Between(bad[len(bad)-3], bad[len(bad)-1]).Clients
	assert.Equal(t, map[string]int{stable: after.Sent}, after.ByVersion, "after the rollback, %s answers everything", stable)
	return during
}

func weightsOf(samples []stack.Sample) []int32 {
	var ws []int32
	for _, s := range samples {
		if len(ws) == 0 || ws[len(ws)-1] != s.Weight {
			ws = append(ws, s.Weight)
		}
	}
	return ws
}

// reportDir is where the report goes: E2E_REPORT_DIR, else e2e-report/ at the module root.
func reportDir(t *testing.T) string {
	dir := os.Getenv("E2E_REPORT_DIR")
	if dir == "" {
		root, err := harness.ModuleRoot()
		require.NoError(t, err)
		dir = filepath.Join(root, "e2e-report")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

func TestBlueGreenSwitchesAllTrafficAtOnce(t *testing.T) {
	const app = "checkout"
	load := deploy(t, stack.BlueGreenRollout(namespace, app, "checkout.e2e.test", 5*time.Second), "checkout.e2e.test")

	samples, ro := release(t, app, load, "v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	assert.Equal(t, []int32{0, 100, 0}, weightsOf(samples), "no traffic to the new version, then all of it, then back to the promoted primary")
	shares := settledShares(samples)
	t.Logf("measured canary share by weight: %v", shares)
	assert.InDelta(t, 100, shares[100], 0.5, "all traffic on the new version during the switch")
	assert.Zero(t, stack.Between(samples[0], samples[len(samples)-1]).Clients.Failed, "clients saw failures:\n%s", stack.FailuresDuring(load, samples))

	// While the new version waits at 0%, the old one answers everything.
	waiting := stack.StepsOf(samples)[0].Window.Clients
	assert.Zero(t, waiting.ByVersion["v2"], "v2 answered at 0%")
	assert.Positive(t, waiting.ByVersion["v1"])
	after := stack.Between(samples[len(samples)-3], samples[len(samples)-1]).Clients
	assert.Equal(t, map[string]int{"v2": after.Sent}, after.ByVersion, "after promotion, v2 answers everything")
}

func TestRollbackWhileTheDataPlaneRestarts(t *testing.T) {
	const app = "cart"
	ro := stack.CanaryRollout(namespace, app, "cart.e2e.test", 30*time.Second, 5*time.Second)
	// Each run without data counts as failed: two, not six, end the rollout.
	ro.Spec.Analysis.InconclusiveLimit = 1
	load := deploy(t, ro, "cart.e2e.test")
	c := s.ControlPlane.Client
	// A healthy canary: only the missing metrics can fail it.
	require.NoError(t, stack.Release(context.Background(), c, namespace, app, "v2"))
	_, err := waitForWeight(app, 5, time.Minute)
	require.NoError(t, err)

	// The data plane goes away while the canary has 5%: with no metrics the analysis cannot
	// pass, and the rollout ends while Traefik is down.
	require.NoError(t, s.Traefik.Kill())
	t.Cleanup(func() { _ = s.Traefik.Restart() }) // for the next tests, should this one stop early
	ended := waitForEnd(t, app, "", 2*time.Minute)
	assert.Equal(t, trancheapi.PhaseFailed, ended.Status.Phase, ended.Status.Message)
	assert.Zero(t, ended.Status.CanaryWeight)
	require.NoError(t, s.Traefik.Restart())

	// Routing comes back as Tranche last set it: all of it to v1.
	requireAllAnsweredBy(t, load, "v1", "after Traefik came back")
}

// requireAllAnsweredBy waits, up to 30 s, for two seconds of the load's requests answered by
// version alone, and fails the test if none come; after says after what, for the message.
func requireAllAnsweredBy(t *testing.T, load *stack.Load, version, after string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var window stack.LoadCounts
	for time.Now().Before(deadline) {
		before := load.Counts()
		time.Sleep(2 * time.Second)
		if window = load.Counts().Minus(before); window.Sent > 0 && window.ByVersion[version] == window.Sent {
			return
		}
	}
	t.Fatalf("two seconds of requests %s: %+v, want all answered by %s", after, window, version)
}

// waitForWeight waits until the Rollout's status says the canary has weight.
func waitForWeight(app string, weight int32, limit time.Duration) (*trancheapi.Rollout, error) {
	ro, err := waitFor(app, limit, func(ro *trancheapi.Rollout) bool { return ro.Status.CanaryWeight == weight })
	if err != nil {
		return nil, fmt.Errorf("the canary of %s never had weight %d", app, weight)
	}
	return ro, nil
}

func TestAClientThatReachedTheCanaryStaysOnIt(t *testing.T) {
	const app, host = "profile", "profile.e2e.test"
	ro := stack.CanaryRollout(namespace, app, host, time.Minute, 5*time.Second)
	ro.Spec.SessionAffinity = &trancheapi.SessionAffinity{}
	deploy(t, ro, host)
	require.NoError(t, stack.Release(context.Background(), s.ControlPlane.Client, namespace, app, "v2"))
	_, err := waitForStep(app, 5, time.Minute)
	require.NoError(t, err)
	// Traefik says it took a route a moment before it serves by it (longer just after the
	// restart of the test before).
	time.Sleep(time.Second)
	reached, clients := requireStickyClients(t, host)
	t.Logf("%d of %d clients reached the canary at 5%%; each of their next requests did too", reached, clients)
}

// The traefik provider through a real Traefik: an IngressRoute of the user's sends a host's
// requests to the TraefikService Tranche weights, Traefik's own metrics judge the canary, and
// Traefik's sticky cookie keeps the clients the canary got.
func TestTheTraefikProviderThroughTraefik(t *testing.T) {
	const app, host = "search", "search.e2e.test"
	ro := stack.CanaryRollout(namespace, app, host, 8*time.Second, 4*time.Second)
	// The pods' IPs are not reachable here: Traefik sends to the ClusterIPs, where the stack's proxy is.
	ro.Spec.Provider = trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{NativeLB: true}}
	ro.Spec.SessionAffinity = &trancheapi.SessionAffinity{}
	ro.Spec.Analysis.VerifyTraffic = &trancheapi.VerifyTraffic{}
	route := stack.IngressRoute(namespace, app, host, app)
	require.NoError(t, s.ControlPlane.Client.Create(context.Background(), route))
	t.Cleanup(func() { _ = s.ControlPlane.Client.Delete(context.Background(), route) })
	load := deploy(t, ro, host)
	require.NoError(t, stack.Release(context.Background(), s.ControlPlane.Client, namespace, app, "v2"))

	shares := map[int32]float64{}
	for _, weight := range []int32{5, 50} {
		_, err := waitForStep(app, weight, time.Minute)
		require.NoError(t, err)
		before := load.Counts()
		time.Sleep(3 * time.Second)
		window := load.Counts().Minus(before)
		require.Positive(t, window.Sent)
		shares[weight] = 100 * float64(window.ByVersion["v2"]) / float64(window.Sent)
		if weight == 5 {
			reached, clients := requireStickyClients(t, host)
			t.Logf("%d of %d clients reached the canary at 5%%; each of their next requests did too", reached, clients)
		}
	}
	t.Logf("measured canary share by weight: %v", shares)
	assert.InDelta(t, 5, shares[5], 2.5, "the canary's share at 5%")
	assert.InDelta(t, 50, shares[50], 6, "the canary's share at 50%")

	ended := waitForEnd(t, app, "", 2*time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, ended.Status.Phase, ended.Status.Message)
	for _, check := range trancheapi.LatestChecks(ended.Status.LastChecks) {
		assert.Equal(t, trancheapi.VerdictPass, check.Verdict, "%s: %s %s", check.Metric, check.Value, check.Message)
	}
	requireTrafficChecksPassed(t, ended)
}

// requireTrafficChecksPassed checks that the Rollout measured the canary's share of traffic
// (spec.analysis.verifyTraffic), and that every measurement it keeps passed.
func requireTrafficChecksPassed(t *testing.T, ro *trancheapi.Rollout) {
	t.Helper()
	var measured []string
	for _, check := range ro.Status.LastChecks {
		if check.Metric == "traffic/share" {
			measured = append(measured, check.Value)
			assert.Equal(t, trancheapi.VerdictPass, check.Verdict, "the canary's share %s%%: %s", check.Value, check.Message)
		}
	}
	require.NotEmpty(t, measured, "no check of the canary's share of traffic")
	t.Logf("the canary's measured shares: %v", measured)
}

// requireStickyClients has clients that keep cookies, as browsers do, each ask once (some
// reach the canary), then has each that reached the canary ask again: every answer must come
// from the canary. It returns how many reached it, of how many.
func requireStickyClients(t *testing.T, host string) (reached, clients int) {
	t.Helper()
	ask := func(c *http.Client) string {
		req, err := http.NewRequest(http.MethodGet, s.Traefik.WebURL()+"/", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return strings.TrimSpace(string(body))
	}
	const again = 20
	clients = 400
	var canary []*http.Client
	for range clients {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c := &http.Client{Jar: jar, Timeout: 2 * time.Second}
		if ask(c) == "v2" {
			canary = append(canary, c)
		}
	}
	require.NotEmpty(t, canary, "no client of %d reached the canary", clients)
	// Without affinity each of their next requests would reach it as seldom as the weight says.
	for i, c := range canary {
		for range again {
			require.Equal(t, "v2", ask(c), "client %d reached the canary once, then the primary", i)
		}
	}
	return len(canary), clients
}

// waitForStep waits until the data plane says the canary's weight (the step has started).
func waitForStep(app string, weight int32, limit time.Duration) (*trancheapi.Rollout, error) {
	return waitFor(app, limit, func(ro *trancheapi.Rollout) bool {
		return ro.Status.CanaryWeight == weight && ro.Status.StepStartedAt != nil
	})
}

// waitFor waits until the Rollout's status satisfies ok.
func waitFor(app string, limit time.Duration, ok func(*trancheapi.Rollout) bool) (*trancheapi.Rollout, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ro := &trancheapi.Rollout{}
		if err := s.ControlPlane.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: app}, ro); err == nil && ok(ro) {
			return ro, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("the Rollout %s never got there", app)
}
