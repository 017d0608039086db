package notify_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tranche-dev/tranche/notify"
)

func webhookCalls(e notify.Endpoint, result string) float64 {
	return testutil.ToFloat64(notify.WebhookCalls.WithLabelValues(e.Namespace, e.Rollout, e.Webhook, result))
}

// A Rollout's webhook calls arrive in the order they were posted, the body as it was given,
// and a failed call is tried again before the next one goes.
func TestWebhookCallsArriveInOrderAndAreRetried(t *testing.T) {
	rc := &receiver{answer: func(attempt int, w http.ResponseWriter, _ *http.Request) bool {
		if attempt == 2 {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rec := &recordingAfter{}
	d, logged := start(t, srv.URL, types.NamespacedName{}, time.Second, func(d *notify.Dispatcher) { d.After = rec.after })
	e := notify.Endpoint{Namespace: "shop", Rollout: "order-" + t.Name(), Webhook: "chat", URL: srv.URL + "/hook"}
	for i := range 5 {
		d.Post(e, fmt.Appendf(nil, `{"n":%d}`, i))
	}
	eventually(t, "six calls", func() bool { got, _ := rc.received(); return len(got) == 6 })
	got, _ := rc.received()
	assert.Equal(t, []string{`{"n":0}`, `{"n":1}`, `{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}, got, "the failed call went again first")
	assert.Equal(t, []time.Duration{time.Second}, rec.recorded(), "one backoff before the retry")
	assert.Equal(t, 5.0, webhookCalls(e, notify.ResultSent))
	assert.Empty(t, logged(), "a call that went through on a retry is not a failure")

	notify.ForgetRollout(e.Namespace, e.Rollout)
	assert.Zero(t, notify.WebhookCalls.DeletePartialMatch(prometheus.Labels{"namespace": e.Namespace, "name": e.Rollout}),
		"no series of the Rollout is left")
}

// Webhook calls share the dispatcher's bound: past it they are dropped and counted, and the
// reconcile that posted them never waits.
func TestWebhookCallsAreBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	d, _ := start(t, srv.URL, types.NamespacedName{}, time.Second, func(d *notify.Dispatcher) { d.Queue = 4 })
	e := notify.Endpoint{Namespace: "shop", Rollout: "bound-" + t.Name(), Webhook: "slow", URL: srv.URL, Timeout: time.Minute}
	done := make(chan struct{})
	go func() {
		for range 20 {
			d.Post(e, []byte(`{}`))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Post waited for the endpoint")
	}
	assert.GreaterOrEqual(t, webhookCalls(e, notify.ResultQueueFull), 15.0, "at most the queue and the call under way are kept")
}
