package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/test/harness"
)

// TestGetWatchShowsEachChange: get -w shows a Rollout that does not exist yet as such, then
// every state the controller takes it through, and ends when its context does.
func TestGetWatchShowsEachChange(t *testing.T) {
	t.Parallel()
	ns := cp.Namespace(t)
	out, stop := watching(t, ns, "get", "app", "-w")
	out.waitFor(t, "rollout app not found in namespace "+ns+" (watching again)")

	key := deployIn(t, ns, step(5, time.Hour, false), step(100, 0, false))
	out.waitFor(t, "Phase:      Initialized\n")
	release(t, key, "app:2")
	out.waitFor(t, "Traffic:    primary 95%, canary 5%\n")
	require.NoError(t, stop())

	text := out.String()
	assert.Less(t, strings.Index(text, "not found"), strings.Index(text, "Phase:      Initialized"), "one frame after the other")
	assert.Less(t, strings.Index(text, "Phase:      Initialized"), strings.Index(text, "Phase:      Progressing"))
}

// TestListWatchShowsEachChange: list -w shows the namespace's Rollouts, none at first, then
// each as the controller changes it, and ends when its context does.
func TestListWatchShowsEachChange(t *testing.T) {
	t.Parallel()
	ns := cp.Namespace(t)
	out, stop := watching(t, ns, "list", "-w")
	out.waitFor(t, "NAME  PHASE  STEP  WEIGHT  STABLE  CANARY  CHECKS  AGE\n")

	key := deployIn(t, ns, step(5, time.Hour, false), step(100, 0, false))
	out.waitForMatch(t, rowPattern("app", trancheapi.PhaseInitialized, "-", "0"))
	release(t, key, "app:2")
	out.waitForMatch(t, rowPattern("app", trancheapi.PhaseProgressing, "1/2", "5"))
	require.NoError(t, stop())
}

// TestWatchesReadOnceThenFollow: after their first read, the watches of get -w and list -w
// send the API server no further request however often the Rollout changes: every change
// comes to them through the watch, at once.
func TestWatchesReadOnceThenFollow(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Hour, false), step(100, 0, false))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var requests atomic.Int64
	cfg := rest.CopyConfig(cp.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(r)
		})
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: cli.Scheme()})
	require.NoError(t, err)

	views := cli.WatchView(ctx, c, key)
	lists := cli.WatchRollouts(ctx, c, key.Namespace)
	require.Eventually(t, func() bool {
		_, viewErr := views.View()
		_, listErr := lists.Rollouts()
		return viewErr == nil && listErr == nil
	}, 30*time.Second, 10*time.Millisecond, "the first reads")
	before := requests.Load()

	ro := getRollout(t, key)
	for i := range 3 {
		label := strconv.Itoa(i)
		patch := client.MergeFrom(ro.DeepCopy())
		ro.Labels = map[string]string{"test.tranche.dev/change": label}
		require.NoError(t, cp.Client.Patch(ctx, ro, patch))
		changedAt := time.Now()

		waitShown(t, views.Changed(), "get -w", func() bool {
			v, err := views.View()
			return err == nil && v.Rollout.Labels["test.tranche.dev/change"] == label
		})
		waitShown(t, lists.Changed(), "list -w", func() bool {
			rollouts, err := lists.Rollouts()
			return err == nil && len(rollouts) == 1 && rollouts[0].Labels["test.tranche.dev/change"] == label
		})
		t.Logf("change %d shown by both watches %s after it was written", i, time.Since(changedAt))
	}

	// Events about the Rollout come through their own watch; others are not shown.
	about := func(name string, uid types.UID, note string) *eventsv1.Event {
		return &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, GenerateName: "test-"},
			EventTime:  metav1.NowMicro(), ReportingController: "tranche.dev/test", ReportingInstance: "test",
			Action: "Test", Reason: "Tested", Type: corev1.EventTypeNormal, Note: note,
			Regarding: corev1.ObjectReference{APIVersion: trancheapi.GroupVersion.String(), Kind: "Rollout", Namespace: key.Namespace, Name: name, UID: uid},
		}
	}
	require.NoError(t, cp.Client.Create(ctx, about("other", "", "about another Rollout")))
	require.NoError(t, cp.Client.Create(ctx, about(key.Name, ro.UID, "about this one")))
	waitShown(t, views.Changed(), "get -w", func() bool {
		v, err := views.View()
		return err == nil && len(v.Events) > 0 && v.Events[len(v.Events)-1].Note == "about this one"
	})
	v, err := views.View()
	require.NoError(t, err)
	for _, e := range v.Events {
		assert.NotEqual(t, "about another Rollout", e.Note)
	}

	assert.Equal(t, before, requests.Load(), "a request after the first reads: the watches read again instead of following")
	cancel()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// waitShown waits until shown, looking again at each change signal only: what a watch shows
// changes when it says so. It fails the test after a few seconds; a watch sees a change in
// milliseconds.
func waitShown(t *testing.T, changed <-chan struct{}, what string, shown func() bool) {
	t.Helper()
	for !shown() {
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			require.Failf(t, "not shown", "%s did not show the change", what)
		}
	}
}

// watching runs `kubectl tranche` with args (a -w command) in namespace ns, and returns what
// it has written so far and stop, which ends the command's context and returns the
// command's error once it has ended, failing the test if it does not end.
func watching(t *testing.T, ns string, args ...string) (*syncBuffer, func() error) {
	t.Helper()
	out := &syncBuffer{}
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: out})
	cmd.SetArgs(append(args, "--kubeconfig="+kubeconfig, "--namespace="+ns))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stopped := false
	stop := func() error {
		t.Helper()
		cancel()
		stopped = true
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			require.Fail(t, "the command did not end with its context")
			return nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_ = stop()
		}
	})
	return out, stop
}

// syncBuffer is a command's output, written by the command's goroutine and read by the test.
type syncBuffer struct{ harness.Output }

// waitFor waits until the output has text.
func (b *syncBuffer) waitFor(t *testing.T, text string) {
	t.Helper()
	b.waitUntil(t, strconv.Quote(text), func(out string) bool { return strings.Contains(out, text) })
}

// waitForMatch waits until a line of the output matches pattern.
func (b *syncBuffer) waitForMatch(t *testing.T, pattern *regexp.Regexp) {
	t.Helper()
	b.waitUntil(t, "a line like "+pattern.String(), pattern.MatchString)
}

func (b *syncBuffer) waitUntil(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(b.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			require.Failf(t, "not shown", "the output never showed %s; it is:\n%s", what, b.String())
		}
	}
}
