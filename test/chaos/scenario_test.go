//go:build e2e

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// The rollouts walk three steps of a short hold, judged every interval; the analysis fails
// a bad canary at its first run.
const (
	hold     = 2 * time.Second
	interval = 2 * time.Second
	// settleWithin bounds each phase of a scenario: far beyond what the rollouts need, so
	// that only a rollout left stuck reaches it.
	settleWithin = 4 * time.Minute
)

// scenario is one chaotic run.
type scenario struct {
	rollouts int
	seed     int64
	// kills has the manager killed and started again at random moments throughout.
	kills bool
	// faults, when set, stands between the manager and the API server.
	faults *harness.APIFaults
}

type scenarioRun struct {
	scenario
	t       *testing.T
	ns      string
	bad     map[string]bool // by Rollout name
	manager *harness.Manager
	log     string // the manager's output, all its runs
	watch   *watcher
	killed  int
}

// seed is the run's seed: CHAOS_SEED when set (to replay a failure), else def.
func seed(t *testing.T, def int64) int64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
		def = n
	}
	t.Logf("seed %d (CHAOS_SEED replays it)", def)
	return def
}

func newScenario(t *testing.T, sc scenario) *scenarioRun {
	s := &scenarioRun{scenario: sc, t: t, ns: cp.Namespace(t), bad: map[string]bool{}}
	rng := rand.New(rand.NewPCG(uint64(sc.seed), 0))
	for i := range sc.rollouts {
		s.bad[appName(i)] = rng.IntN(3) == 0
	}
	return s
}

func appName(i int) string { return fmt.Sprintf("app-%d", i) }

// run creates the apps and their Rollouts, releases a new version of each once all are
// initialized, waits until every rollout has ended and checks what must hold.
func (s *scenarioRun) run() {
	t, ctx := s.t, context.Background()
	s.createShared(ctx)
	s.watch = startWatcher(t, s.ns)
	s.startManager()
	stopMonkey := func() {}
	if s.kills {
		stopMonkey = s.startMonkey()
	}
	defer func() {
		stopMonkey()
		_ = s.manager.Stop()
		if t.Failed() {
			t.Logf("the manager's log is in %s", s.log)
		} else {
			_ = os.Remove(s.log)
		}
	}()

	for i := range s.rollouts {
		name := appName(i)
		require.NoError(t, cp.Client.Create(ctx, appSecret(s.ns, name)))
		require.NoError(t, cp.Client.Create(ctx, usingSecret(harness.Deployment(s.ns, name, "app:1"))))
		require.NoError(t, cp.Client.Create(ctx, s.rollout(name)))
	}
	s.waitUntilAll("initialized", func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseInitialized })

	for i := range s.rollouts {
		require.NoError(t, harness.SetImage(ctx, cp.Client, s.ns, appName(i), "app:2"))
	}
	s.waitUntilAll("rolled out", func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseSucceeded || ro.Status.Phase == trancheapi.PhaseFailed
	})
	stopMonkey()
	s.check(ctx)
}

// createShared makes what every Rollout of the scenario refers to: the MetricTemplate that
// reads whether a canary is bad (through a Prometheus that wants a password) and a Slack
// provider whose URL holds a token.
func (s *scenarioRun) createShared(ctx context.Context) {
	t := s.t
	for name, bad := range s.bad {
		v := 0.0
		if bad {
			v = 1
		}
		canaryBad.WithLabelValues(s.ns, name).Set(v)
	}
	require.NoError(t, prom.WaitForSeries(ctx, fmt.Sprintf(`tranche_chaos_canary_bad{namespace=%q}`, s.ns)))
	objects := []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "prometheus-auth"},
			StringData: map[string]string{"username": harness.PrometheusUsername, "password": harness.PrometheusPassword},
		},
		&trancheapi.MetricTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "canary-bad"},
			Spec: trancheapi.MetricTemplateSpec{
				Prometheus: &trancheapi.PrometheusSource{Address: prom.URL(), SecretRef: &trancheapi.LocalObjectReference{Name: "prometheus-auth"}},
				// The last value of the minute: a scrape that fails on a busy machine marks the
				// series stale, and runs that find no data are not what this test is about.
				Query: `max(last_over_time(tranche_chaos_canary_bad{namespace="{{ .Namespace }}", rollout="{{ .Rollout }}"}[1m]))`,
			},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "slack"},
			StringData: map[string]string{"address": slack.URL + "/services/" + slackToken},
		},
		&trancheapi.NotificationProvider{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "slack"},
			Spec:       trancheapi.NotificationProviderSpec{Type: trancheapi.NotificationSlack, SecretRef: trancheapi.LocalObjectReference{Name: "slack"}},
		},
	}
	for _, obj := range objects {
		require.NoError(t, cp.Client.Create(ctx, obj))
	}
}

// rollout is a Rollout of the app through the Gateway API: three steps, each judged.
func (s *scenarioRun) rollout(name string) *trancheapi.Rollout {
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: hold}}
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: name},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "gw"}}}},
			Steps:     []trancheapi.Step{step(5), step(50), step(100)},
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: interval},
				FailureLimit: 1,
				Metrics:      []trancheapi.Metric{{Name: "canary-bad", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "canary-bad"}, Max: ptr.To(0.0)}},
			},
			Notify: []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Name: "slack"}}},
		},
	}
}

// startManager starts the manager, logging everything it does, through the fault proxy when
// the scenario has one.
func (s *scenarioRun) startManager() {
	t := s.t
	dir := t.TempDir()
	kubeconfig, err := cp.Kubeconfig(dir)
	require.NoError(t, err)
	if s.faults != nil {
		kubeconfig, err = s.faults.Kubeconfig(dir)
		require.NoError(t, err)
	}
	log, err := os.CreateTemp("", "tranche-chaos-manager-*.log")
	require.NoError(t, err)
	t.Cleanup(func() { _ = log.Close() })
	s.log = log.Name()
	s.manager = &harness.Manager{
		Binary: managerBin, Kubeconfig: kubeconfig, Log: log,
		Args: []string{"--leader-elect=false", "--metrics-bind-address=0", "--namespaces=" + s.ns,
			"--log-level=debug", "--concurrency=8"},
	}
	require.NoError(t, s.manager.Start())
}

// startMonkey kills the manager after a random 0.5-3 s, starts it again after a random
// 0-500 ms, and so on until the returned function is called, which leaves it running.
func (s *scenarioRun) startMonkey() (stop func()) {
	rng := rand.New(rand.NewPCG(uint64(s.seed), 1))
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(500*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))):
			}
			_ = s.manager.Kill()
			s.killed++
			time.Sleep(time.Duration(rng.Int64N(int64(500 * time.Millisecond))))
			for s.manager.Start() != nil {
				_ = s.manager.Kill()
			}
		}
	}()
	var once bool
	return func() {
		if !once {
			once = true
			close(done)
			<-stopped
		}
	}
}

// waitUntilAll waits until every Rollout is in the state what describes; it fails the test
// and names the ones left behind after settleWithin.
func (s *scenarioRun) waitUntilAll(what string, done func(*trancheapi.Rollout) bool) {
	t := s.t
	start := time.Now()
	var behind []string
	for time.Since(start) < settleWithin {
		behind = behind[:0]
		var list trancheapi.RolloutList
		require.NoError(t, cp.Client.List(context.Background(), &list, client.InNamespace(s.ns)))
		for _, ro := range list.Items {
			if !done(&ro) {
				behind = append(behind, fmt.Sprintf("%s (%s: %s)", ro.Name, ro.Status.Phase, ro.Status.Message))
			}
		}
		if len(behind) == 0 {
			t.Logf("all %d %s after %s", s.rollouts, what, time.Since(start).Round(time.Second))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%d Rollouts not %s after %s, such as %s", len(behind), what, settleWithin, strings.Join(behind[:min(5, len(behind))], "; "))
}

// check asserts what must hold at the end of any run.
func (s *scenarioRun) check(ctx context.Context) {
	t := s.t
	var list trancheapi.RolloutList
	require.NoError(t, cp.Client.List(ctx, &list, client.InNamespace(s.ns)))
	for _, ro := range list.Items {
		want, promotions := trancheapi.PhaseSucceeded, 1
		if s.bad[ro.Name] {
			want, promotions = trancheapi.PhaseFailed, 0
		}
		assert.Equal(t, want, ro.Status.Phase, "%s ended in the wrong phase: %s; its last checks: %s", ro.Name, ro.Status.Message, describeChecks(ro.Status.LastChecks))
		assert.Equal(t, promotions, s.watch.promotions(ro.Name), "%s: times the primary got a new pod template", ro.Name)
		primary := &appsv1.Deployment{}
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: ro.Name + "-primary"}, primary))
		image := map[bool]string{false: "app:2", true: "app:1"}[s.bad[ro.Name]]
		assert.Equal(t, image, primary.Spec.Template.Spec.Containers[0].Image, "%s: the primary runs the wrong version", ro.Name)
		copied := &corev1.Secret{}
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: ro.Name + "-credentials-primary"}, copied),
			"%s: the primary has its copy of the app's Secret", ro.Name)
		assert.Equal(t, appSecretValue, string(copied.Data["DB_PASSWORD"]))
	}
	violations, changes := s.watch.routing()
	t.Logf("%d routing changes checked", changes)
	assert.Empty(t, violations, "requests were routed to workloads that were not ready")
	assert.Greater(t, changes, 3*s.rollouts, "the watcher saw too few routing changes to have checked them")
	s.checkNoSecretShows(ctx, list.Items)
}

// checkNoSecretShows looks for the planted secrets in the manager's logs, the events and the
// Rollouts' status.
func (s *scenarioRun) checkNoSecretShows(ctx context.Context, rollouts []trancheapi.Rollout) {
	t := s.t
	logs, err := os.ReadFile(s.log)
	require.NoError(t, err)
	require.NotEmpty(t, logs, "the manager logged nothing: the check would be empty")
	var events eventsv1.EventList
	require.NoError(t, cp.Client.List(ctx, &events, client.InNamespace(s.ns)))
	require.NotEmpty(t, events.Items, "no events: the check would be empty")
	eventsJSON, err := json.Marshal(events.Items)
	require.NoError(t, err)
	statuses, err := json.Marshal(statusesOf(rollouts))
	require.NoError(t, err)
	for name, text := range map[string][]byte{"the manager's log": logs, "the events": eventsJSON, "the status": statuses} {
		for _, secret := range []string{harness.PrometheusPassword, slackToken, strings.Split(slackToken, "/")[2], appSecretValue} {
			assert.NotContains(t, string(text), secret, "a planted secret shows in %s", name)
		}
	}
	t.Logf("no secret in %d bytes of logs, %d events, %d statuses", len(logs), len(events.Items), len(rollouts))
}

// appSecretValue is in every app's Secret, which its pods read and whose copy Tranche
// writes for the primary: a value Tranche handles that must never show.
const appSecretValue = "planted-app-password-93c1"

func appSecret(ns, app string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-credentials"},
		Data: map[string][]byte{"DB_PASSWORD": []byte(appSecretValue)}}
}

// usingSecret makes the app's pods read its Secret, which makes the Secret part of its
// revision.
func usingSecret(d *appsv1.Deployment) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: d.Name + "-credentials"},
	}}}
	return d
}

// describeChecks says what each check of an analysis found, for the message of a failure.
func describeChecks(checks []trancheapi.CheckResult) string {
	var said []string
	for _, c := range checks {
		said = append(said, fmt.Sprintf("%s %s=%q %s %s", c.At.Format("15:04:05"), c.Metric, c.Value, c.Verdict, c.Message))
	}
	return strings.Join(said, "; ")
}

func statusesOf(rollouts []trancheapi.Rollout) []trancheapi.RolloutStatus {
	out := make([]trancheapi.RolloutStatus, len(rollouts))
	for i := range rollouts {
		out[i] = rollouts[i].Status
	}
	return out
}
