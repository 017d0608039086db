package stack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load says when and why requests failed, and which version answered the others.
func TestLoadKeepsItsFailuresWithTimeAndReason(t *testing.T) {
	var n atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			http.Error(w, "no healthy upstream", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("v1\n"))
	}))
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	load := StartLoad(ctx, server.URL, "shop.test", 200)
	require.Eventually(t, func() bool { return load.Counts().Sent >= 40 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	// A request answered as the load stopped may still be counted: wait until both agree.
	var counts LoadCounts
	var failures []Failure
	require.Eventually(t, func() bool {
		counts, failures = load.Counts(), load.Failures(start, time.Now())
		return len(failures) == min(counts.Failed, maxFailures)
	}, 5*time.Second, 10*time.Millisecond)
	require.NotEmpty(t, failures)
	assert.Equal(t, counts.Sent-counts.Failed, counts.ByVersion["v1"])
	for _, f := range failures {
		assert.True(t, strings.HasPrefix(f.Reason, "502 Bad Gateway: no healthy upstream"), f.Reason)
		assert.False(t, f.At.Before(start), "sent after the load started")
	}
	assert.Empty(t, load.Failures(start.Add(-time.Hour), start.Add(-time.Minute)), "none before the load")

	samples := []Sample{{At: start}, {At: time.Now(), Phase: "Progressing", Weight: 5}}
	assert.Contains(t, FailuresDuring(load, samples), "502 Bad Gateway")
}

func TestWaitServedWaitsForTheRoute(t *testing.T) {
	var routed atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !routed.Load() || r.Host != "shop.test" {
			http.NotFound(w, r) // as Traefik answers before it has read the route
			return
		}
		_, _ = w.Write([]byte("v1\n"))
	}))
	defer server.Close()
	err := WaitServed(context.Background(), server.URL, "shop.test", 200*time.Millisecond)
	require.ErrorContains(t, err, "404 Not Found")

	time.AfterFunc(100*time.Millisecond, func() { routed.Store(true) })
	require.NoError(t, WaitServed(context.Background(), server.URL, "shop.test", 5*time.Second))
}
