package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
)

// receiver stands in for Slack's incoming webhook: it records each POST and answers with
// what answer says (200 when nil).
type receiver struct {
	mu     sync.Mutex
	bodies []string
	times  []time.Time
	answer func(attempt int, w http.ResponseWriter, r *http.Request) bool // true: answered
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, string(body))
	rc.times = append(rc.times, time.Now())
	attempt := len(rc.bodies)
	rc.mu.Unlock()
	if rc.answer != nil && rc.answer(attempt, w, r) {
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (rc *receiver) received() ([]string, []time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...), append([]time.Time(nil), rc.times...)
}

// secretPath is the part of a Slack webhook URL that is a credential.
const secretPath = "/services/T0000/B0000/s3cr3tt0k3n"

// start runs a dispatcher sending to url as a Slack provider until the test ends.
func start(t *testing.T, url string, provider types.NamespacedName, timeout time.Duration, options ...func(*notify.Dispatcher)) (*notify.Dispatcher, func() []string) {
	var mu sync.Mutex
	var logged []string
	d := &notify.Dispatcher{
		Resolve: func(context.Context, types.NamespacedName) (notify.Target, error) {
			return notify.Target{Type: trancheapi.NotificationSlack, URL: url + secretPath, Timeout: timeout}, nil
		},
		Log: func(p types.NamespacedName, err error) {
			mu.Lock()
			defer mu.Unlock()
			logged = append(logged, p.String()+": "+err.Error())
		},
	}
	for _, option := range options {
		option(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), logged...)
	}
}

func count(provider types.NamespacedName, result string) float64 {
	return testutil.ToFloat64(notify.Notifications.WithLabelValues(provider.String(), result))
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	require.Eventually(t, ok, 20*time.Second, 20*time.Millisecond, what)
}

func TestOneMessageForAHundredIdenticalEvents(t *testing.T) {
	rc := &receiver{}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "dedup"}
	d, _ := start(t, server.URL, provider, 0)

	for range 100 {
		d.Send(provider, news(notify.AnalysisFailing))
	}
	eventually(t, "one message sent", func() bool { return count(provider, notify.ResultSent) == 1 })
	time.Sleep(200 * time.Millisecond) // nothing else comes
	bodies, _ := rc.received()
	assert.Len(t, bodies, 1)
	assert.Equal(t, 99.0, count(provider, notify.ResultDuplicate))
}

func TestAFloodingRolloutIsRateLimited(t *testing.T) {
	rc := &receiver{}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "flood"}
	d, _ := start(t, server.URL, provider, 0)

	for i := range 50 { // 50 different messages at once
		n := news(notify.StepReached)
		n.Message = strings.Repeat("x", i)
		d.Send(provider, n)
	}
	eventually(t, "the burst sent", func() bool { return count(provider, notify.ResultSent) == 10 })
	assert.Equal(t, 40.0, count(provider, notify.ResultRateLimited))
	other := news(notify.StepReached)
	other.Rollout = "another"
	d.Send(provider, other)
	eventually(t, "another Rollout is not held back", func() bool { return count(provider, notify.ResultSent) == 11 })
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rc := &receiver{answer: func(attempt int, w http.ResponseWriter, _ *http.Request) bool {
		if attempt == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "retry-after"}
	d, _ := start(t, server.URL, provider, 0)

	d.Send(provider, news(notify.Promoted))
	eventually(t, "sent on the second attempt", func() bool { return count(provider, notify.ResultSent) == 1 })
	bodies, times := rc.received()
	require.Len(t, bodies, 2)
	assert.Equal(t, bodies[0], bodies[1], "the same message again")
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 2*time.Second, "waited as Retry-After said")
}

func TestAClientErrorIsNotRetried(t *testing.T) {
	rc := &receiver{answer: func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return true
	}}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "bad-request"}
	d, logged := start(t, server.URL, provider, 0)

	d.Send(provider, news(notify.Promoted))
	eventually(t, "counted as failed", func() bool { return count(provider, notify.ResultFailed) == 1 })
	bodies, _ := rc.received()
	assert.Len(t, bodies, 1)
	require.Len(t, logged(), 1)
	assert.Contains(t, logged()[0], "400 Bad Request")
}

// A hanging endpoint holds the workers, never the sender: Send returns at once, and what
// does not fit in the queue is dropped and counted.
func TestAHangingEndpointNeverBlocksTheSender(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer server.Close()
	defer close(release)
	provider := types.NamespacedName{Namespace: "shop", Name: "hanging"}
	d, _ := start(t, server.URL, provider, 500*time.Millisecond)

	began := time.Now()
	for i := range 1000 {
		n := news(notify.StepReached)
		n.Rollout = strings.Repeat("r", i%200+1) // many Rollouts: no rate limit in the way
		n.Message = strings.Repeat("m", i)
		d.Send(provider, n)
	}
	assert.Less(t, time.Since(began), time.Second, "1000 sends took %s", time.Since(began))
	assert.Positive(t, count(provider, notify.ResultQueueFull), "the overflow is dropped and counted")
}

func TestTheURLNeverShowsInErrors(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close() // connection refused from now on
	provider := types.NamespacedName{Namespace: "shop", Name: "gone"}
	d, logged := start(t, url, provider, time.Second)

	d.Send(provider, news(notify.RolledBack))
	eventually(t, "counted as failed", func() bool { return count(provider, notify.ResultFailed) == 1 })
	require.Len(t, logged(), 1)
	assert.Contains(t, logged()[0], "connection refused")
	assert.NotContains(t, logged()[0], "s3cr3tt0k3n")
	assert.NotContains(t, logged()[0], url)
}

func TestSlackReceivesWhatItAccepts(t *testing.T) {
	rc := &receiver{}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "shape"}
	d, _ := start(t, server.URL, provider, 0)

	d.Send(provider, news(notify.WaitingApproval))
	eventually(t, "sent", func() bool { return count(provider, notify.ResultSent) == 1 })
	bodies, _ := rc.received()
	var msg slackShape
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &msg))
	assert.Contains(t, msg.Text, "shop/podinfo waits for approval")
	assert.Contains(t, bodies[0], "kubectl tranche promote podinfo -n shop")
}

// recordingAfter runs retries at once and records the waits asked for.
type recordingAfter struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordingAfter) after(d time.Duration, f func()) {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	go f()
}

func (r *recordingAfter) recorded() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

func TestServerErrorsAreRetriedWithBackoffThenGivenUp(t *testing.T) {
	rc := &receiver{answer: func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "backoff"}
	waits := &recordingAfter{}
	d, logged := start(t, server.URL, provider, 0, func(d *notify.Dispatcher) { d.After = waits.after })

	d.Send(provider, news(notify.RolledBack))
	eventually(t, "given up", func() bool { return count(provider, notify.ResultFailed) == 1 })
	bodies, _ := rc.received()
	assert.Len(t, bodies, 4, "four attempts")
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, waits.recorded())
	assert.Contains(t, logged()[0], "after 4 attempts: the endpoint answered 502 Bad Gateway")

	// News that never arrived is not a duplicate of itself.
	d.Send(provider, news(notify.RolledBack))
	eventually(t, "tried again", func() bool { return count(provider, notify.ResultFailed) == 2 })
}

func TestRetryAfterAsADateAndBeyondAMinute(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		sent         bool
		wait         time.Duration
	}{
		{"a date", time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat), true, 30 * time.Second},
		{"more than a minute", "3600", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{answer: func(attempt int, w http.ResponseWriter, _ *http.Request) bool {
				if attempt == 1 {
					w.Header().Set("Retry-After", tc.header)
					w.WriteHeader(http.StatusTooManyRequests)
					return true
				}
				return false
			}}
			server := httptest.NewServer(rc)
			defer server.Close()
			provider := types.NamespacedName{Namespace: "shop", Name: "retry-after-" + strings.ReplaceAll(tc.name, " ", "-")}
			waits := &recordingAfter{}
			d, logged := start(t, server.URL, provider, 0, func(d *notify.Dispatcher) { d.After = waits.after })

			d.Send(provider, news(notify.Promoted))
			if !tc.sent {
				eventually(t, "given up", func() bool { return count(provider, notify.ResultFailed) == 1 })
				assert.Contains(t, logged()[0], "asked to wait 1h0m0s")
				assert.Empty(t, waits.recorded())
				return
			}
			eventually(t, "sent", func() bool { return count(provider, notify.ResultSent) == 1 })
			require.Len(t, waits.recorded(), 1)
			assert.InDelta(t, tc.wait.Seconds(), waits.recorded()[0].Seconds(), 2)
		})
	}
}

func TestARolloutsNewsArrivesInOrder(t *testing.T) {
	rc := &receiver{answer: func(attempt int, _ http.ResponseWriter, _ *http.Request) bool {
		time.Sleep(time.Duration(10-attempt%10) * 5 * time.Millisecond) // slower first: a race would reorder
		return false
	}}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "order"}
	d, _ := start(t, server.URL, provider, 0)

	var want []string
	for i := range 8 {
		n := news(notify.StepReached)
		n.Message = fmt.Sprintf("message %d", i)
		want = append(want, n.Message)
		d.Send(provider, n)
	}
	eventually(t, "all sent", func() bool { return count(provider, notify.ResultSent) == 8 })
	bodies, _ := rc.received()
	var got []string
	for _, body := range bodies {
		var msg slackShape
		require.NoError(t, json.Unmarshal([]byte(body), &msg))
		got = append(got, strings.TrimPrefix(msg.Text, "shop/podinfo step passed: "))
	}
	assert.Equal(t, want, got)
}

func TestARetriedRolloutIsNewNews(t *testing.T) {
	rc := &receiver{}
	server := httptest.NewServer(rc)
	defer server.Close()
	provider := types.NamespacedName{Namespace: "shop", Name: "retried"}
	d, _ := start(t, server.URL, provider, 0)

	first := news(notify.Aborted)
	first.Attempt = "2026-11-24T12:00:00Z"
	second := first
	second.Attempt = "2026-11-24T12:03:00Z" // the same revision aborted again after a retry
	d.Send(provider, first)
	d.Send(provider, first)
	d.Send(provider, second)
	eventually(t, "both attempts told", func() bool { return count(provider, notify.ResultSent) == 2 })
	assert.Equal(t, 1.0, count(provider, notify.ResultDuplicate))
}

func TestAHangingProviderLeavesTheOthersAlone(t *testing.T) {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(hang)
	fine := httptest.NewServer(&receiver{})
	defer fine.Close()
	slow, quick := types.NamespacedName{Namespace: "shop", Name: "slow"}, types.NamespacedName{Namespace: "shop", Name: "quick"}
	d, _ := start(t, "", slow, 0, func(d *notify.Dispatcher) {
		d.Resolve = func(_ context.Context, p types.NamespacedName) (notify.Target, error) {
			url := fine.URL
			if p == slow {
				url = hanging.URL
			}
			return notify.Target{Type: trancheapi.NotificationSlack, URL: url, Timeout: time.Minute}, nil
		}
	})

	for i := range 10 { // ten Rollouts' news to the hanging provider
		n := news(notify.StepReached)
		n.Rollout = fmt.Sprintf("app-%d", i)
		d.Send(slow, n)
	}
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	d.Send(quick, news(notify.Promoted))
	eventually(t, "the other provider's news delivered", func() bool { return count(quick, notify.ResultSent) == 1 })
	assert.Less(t, time.Since(began), 5*time.Second)
}
