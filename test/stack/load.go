package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Load sends a steady rate of requests (HTTP through the gateway, or gRPC calls) and counts
// what the clients saw: the version that answered and every failure (an error or no answer
// at all).
type Load struct {
	// call sends one request and returns the version that answered, or why none did.
	call func(context.Context) (string, error)

	mu       sync.Mutex
	counts   LoadCounts
	failures []Failure // the first maxFailures
	last     Failure   // the latest
	// answered is when the latest request each version answered was sent.
	answered map[string]time.Time
}

// Failure is one request the clients saw fail: when it was sent, and what came back.
type Failure struct {
	At     time.Time
	Reason string // the status and the start of the body, or the client's error
}

func (f Failure) String() string { return f.At.Format("15:04:05.000") + " " + f.Reason }

// maxFailures bounds the failures a Load keeps: enough to see when and why they began.
const maxFailures = 50

// LoadCounts are totals since the load started.
type LoadCounts struct {
	Sent      int            // requests sent and answered (or given up on)
	Failed    int            // of those, the ones answered with an error or not at all
	ByVersion map[string]int // successful answers by the version that gave them
	Dropped   int            // requests not sent, because too many were waiting for answers
}

func (c LoadCounts) clone() LoadCounts {
	byVersion := make(map[string]int, len(c.ByVersion))
	for v, n := range c.ByVersion {
		byVersion[v] = n
	}
	c.ByVersion = byVersion
	return c
}

// Minus is what happened between an earlier count and c.
func (c LoadCounts) Minus(earlier LoadCounts) LoadCounts {
	d := LoadCounts{Sent: c.Sent - earlier.Sent, Failed: c.Failed - earlier.Failed, Dropped: c.Dropped - earlier.Dropped, ByVersion: map[string]int{}}
	for v, n := range c.ByVersion {
		if n -= earlier.ByVersion[v]; n != 0 {
			d.ByVersion[v] = n
		}
	}
	return d
}

// WaitServed waits up to limit until the gateway at baseURL answers a request for host with
// 200, as it does once the data plane has read the route. Tranche's Initialized phase does
// not say so yet: it counts a route once the API server has it, and Traefik reads it a
// moment later (longer on a busy machine), answering 404 meanwhile.
func WaitServed(ctx context.Context, baseURL, host string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/", nil)
		if err != nil {
			return err
		}
		req.Host = host
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the gateway did not serve %s within %v (last answer: %s)", host, limit, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartLoad sends perSecond requests a second to baseURL with the Host header host, until ctx
// is done. Requests go out on schedule whether or not earlier ones have been answered, as
// real clients' do, up to 64 in flight; beyond that they are dropped (and counted).
func StartLoad(ctx context.Context, baseURL, host string, perSecond int) *Load {
	return StartLoadWithHeader(ctx, baseURL, host, perSecond, nil)
}

// StartLoadWithHeader is StartLoad with header sent in every request: the clients an A/B
// step's match selects.
func StartLoadWithHeader(ctx context.Context, baseURL, host string, perSecond int, header http.Header) *Load {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
	}
	context.AfterFunc(ctx, client.CloseIdleConnections)
	return startLoad(ctx, perSecond, func(ctx context.Context) (string, error) {
		return get(ctx, client, baseURL+"/", host, header)
	})
}

// startLoad calls call perSecond times a second until ctx is done. Calls go out on schedule
// whether or not earlier ones have been answered, as real clients' do, up to 64 in flight;
// beyond that they are dropped (and counted).
func startLoad(ctx context.Context, perSecond int, call func(context.Context) (string, error)) *Load {
	perSecond = max(perSecond, 1)
	l := &Load{call: call, counts: LoadCounts{ByVersion: map[string]int{}}}
	inFlight := make(chan struct{}, 64)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case inFlight <- struct{}{}:
				go func() { l.send(ctx); <-inFlight }()
			default:
				l.mu.Lock()
				l.counts.Dropped++
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *Load) send(ctx context.Context) {
	sent := time.Now()
	version, err := l.call(ctx)
	if ctx.Err() != nil {
		return // the load stopped: not the service's failure
	}
	if err != nil {
		l.fail(sent, err.Error())
		return
	}
	l.mu.Lock()
	l.counts.Sent++
	l.counts.ByVersion[version]++
	if l.answered == nil {
		l.answered = map[string]time.Time{}
	}
	if sent.After(l.answered[version]) {
		l.answered[version] = sent
	}
	l.mu.Unlock()
}

// LastAnswerBy is when the latest request version answered was sent; zero when it answered
// none.
func (l *Load) LastAnswerBy(version string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered[version]
}

// get sends one HTTP request and returns the version the answer names.
func get(ctx context.Context, client *http.Client, url, host string, header http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	answer := strings.TrimSpace(string(body))
	switch {
	case err != nil:
		return "", fmt.Errorf("reading the answer: %w", err)
	case resp.StatusCode != http.StatusOK:
		return "", errors.New(resp.Status + ": " + answer[:min(len(answer), 80)])
	}
	return answer, nil
}

func (l *Load) fail(sent time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts.Sent++
	l.counts.Failed++
	l.last = Failure{At: sent, Reason: reason}
	if len(l.failures) < maxFailures {
		l.failures = append(l.failures, Failure{At: sent, Reason: reason})
	}
}

// Failures returns the failed requests sent from from to to (of the first maxFailures).
func (l *Load) Failures(from, to time.Time) []Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in []Failure
	for _, f := range l.failures {
		if !f.At.Before(from) && !f.At.After(to) {
			in = append(in, f)
		}
	}
	return in
}

// LastFailure is the latest failed request, and false when none has failed.
func (l *Load) LastFailure() (Failure, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.counts.Failed > 0
}

// Counts returns the totals so far.
func (l *Load) Counts() LoadCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts.clone()
}
