package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Target is where a provider's messages go, resolved from its NotificationProvider and the
// Secret holding the URL at the moment of sending.
type Target struct {
	Type    trancheapi.NotificationType
	URL     string // secret: never logged nor put in an error
	Slack   SlackOptions
	Timeout time.Duration
}

// Resolver reads a NotificationProvider and its Secret.
type Resolver func(ctx context.Context, provider types.NamespacedName) (Target, error)

// Delivery settings. A delivery is tried at most maxAttempts times; between attempts it
// waits what Retry-After says (up to maxRetryAfter) or else backs off exponentially.
const (
	defaultQueue   = 256
	defaultWorkers = 4
	maxAttempts    = 4
	firstBackoff   = time.Second
	maxRetryAfter  = time.Minute
	defaultTimeout = 10 * time.Second
	dedupWindow    = 5 * time.Minute
	rateBurst      = 10               // messages a Rollout may send to a provider at once
	rateRefill     = 6 * time.Second  // and then one more per this long
	forgetAfter    = 30 * time.Minute // how long an idle Rollout's rate and dedup state is kept
)

// Results counted by tranche_notifications_total.
const (
	ResultSent        = "sent"
	ResultFailed      = "failed"       // every attempt failed
	ResultQueueFull   = "queue_full"   // dropped: the workers are behind
	ResultRateLimited = "rate_limited" // dropped: the Rollout sent too many
	ResultDuplicate   = "duplicate"    // dropped: the same news was just sent
)

// Notifications counts deliveries by NotificationProvider (namespace/name) and result.
var Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "tranche_notifications_total",
	Help: "Notifications by NotificationProvider (namespace/name) and result: sent, failed, queue_full, rate_limited, duplicate.",
}, []string{"provider", "result"})

// Dispatcher delivers news in the background: Send never blocks. Run starts the workers.
// Each Rollout's news to a provider is delivered in order, one at a time: a provider that
// hangs holds one worker, not the others.
type Dispatcher struct {
	Resolve Resolver
	HTTP    *http.Client // nil: a client of its own
	Queue   int          // deliveries waiting, over all Rollouts, before new ones are dropped; 0: 256
	Workers int          // deliveries under way at once; 0: 4
	Now     func() time.Time
	Sleep   func(context.Context, time.Duration) error // nil: a timer
	// Log receives one line per failed delivery, with no URL in it. nil: discarded.
	Log func(provider types.NamespacedName, err error)

	once    sync.Once
	ready   chan string // keys with news waiting and no worker on them
	mu      sync.Mutex
	pending map[string][]delivery // by key (provider and Rollout), oldest first
	waiting int                   // deliveries in pending
	state   map[string]*rolloutState
}

type delivery struct {
	provider types.NamespacedName
	news     News
}

// rolloutState is what limits one Rollout's messages to one provider.
type rolloutState struct {
	tokens   float64
	refilled time.Time
	sent     map[string]time.Time // news keys, when last sent
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.ready = make(chan string, cmpOr(d.Queue, defaultQueue)) // never more keys than deliveries
		d.pending = map[string][]delivery{}
		d.state = map[string]*rolloutState{}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.HTTP == nil {
			d.HTTP = &http.Client{}
		}
		if d.Sleep == nil {
			d.Sleep = sleep
		}
	})
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	var wg sync.WaitGroup
	for range cmpOr(d.Workers, defaultWorkers) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case key := <-d.ready:
					d.drain(ctx, key)
				}
			}
		})
	}
	wg.Wait()
}

// drain delivers a key's news in order until none is left.
func (d *Dispatcher) drain(ctx context.Context, key string) {
	for ctx.Err() == nil {
		d.mu.Lock()
		queue := d.pending[key]
		if len(queue) == 0 {
			delete(d.pending, key)
			d.mu.Unlock()
			return
		}
		job := queue[0]
		d.pending[key] = queue[1:]
		d.waiting--
		d.mu.Unlock()
		d.deliver(ctx, job)
	}
}

// Send queues news for a provider unless the same news went there lately, the Rollout has
// sent too much, or the queue is full; each of these is counted, none waits.
func (d *Dispatcher) Send(provider types.NamespacedName, n News) {
	d.init()
	key := provider.String() + "|" + n.Namespace + "/" + n.Rollout
	if result := d.admit(key, n); result != "" {
		Notifications.WithLabelValues(provider.String(), result).Inc()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting >= cap(d.ready) {
		Notifications.WithLabelValues(provider.String(), ResultQueueFull).Inc()
		return
	}
	queue, known := d.pending[key]
	d.pending[key] = append(queue, delivery{provider: provider, news: n})
	d.waiting++
	if !known { // no worker has the key, nor is it waiting for one
		d.ready <- key // cannot block: fewer keys than deliveries, fewer deliveries than its room
	}
}

// admit applies deduplication and the per-Rollout rate limit; it returns the result that
// drops the news, or "".
func (d *Dispatcher) admit(key string, n News) string {
	now := d.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetIdle(now)
	st := d.state[key]
	if st == nil {
		st = &rolloutState{tokens: rateBurst, refilled: now, sent: map[string]time.Time{}}
		d.state[key] = st
	}
	newsKey := string(n.Kind) + "|" + n.Canary + "|" + n.Message
	if last, ok := st.sent[newsKey]; ok && now.Sub(last) < dedupWindow {
		return ResultDuplicate
	}
	st.tokens = min(rateBurst, st.tokens+now.Sub(st.refilled).Seconds()/rateRefill.Seconds())
	st.refilled = now
	if st.tokens < 1 {
		return ResultRateLimited
	}
	st.tokens--
	st.sent[newsKey] = now
	return ""
}

// forgetIdle drops the state of Rollouts that sent nothing for a long time, so that the map
// does not grow with every Rollout ever seen.
func (d *Dispatcher) forgetIdle(now time.Time) {
	for key, st := range d.state {
		if now.Sub(st.refilled) > forgetAfter {
			delete(d.state, key)
		}
	}
}

// deliver sends one piece of news, retrying what can succeed later.
func (d *Dispatcher) deliver(ctx context.Context, job delivery) {
	target, err := d.Resolve(ctx, job.provider)
	if err != nil {
		d.fail(job.provider, err)
		return
	}
	body, err := Payload(target, job.news)
	if err != nil {
		d.fail(job.provider, err)
		return
	}
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := d.post(ctx, target, body)
		if err == nil {
			Notifications.WithLabelValues(job.provider.String(), ResultSent).Inc()
			return
		}
		if attempt == maxAttempts || retryAfter < 0 || ctx.Err() != nil {
			d.fail(job.provider, fmt.Errorf("after %d attempt(s): %w", attempt, err))
			return
		}
		if retryAfter > 0 {
			wait = min(retryAfter, maxRetryAfter)
		}
		if d.Sleep(ctx, wait) != nil {
			return
		}
		wait *= 2
	}
}

func (d *Dispatcher) fail(provider types.NamespacedName, err error) {
	Notifications.WithLabelValues(provider.String(), ResultFailed).Inc()
	if d.Log != nil {
		d.Log(provider, err)
	}
}

// Payload builds the body a target's type takes.
func Payload(t Target, n News) ([]byte, error) {
	switch t.Type {
	case trancheapi.NotificationSlack:
		return Slack(n, t.Slack)
	case trancheapi.NotificationMSTeams:
		return Teams(n)
	case trancheapi.NotificationWebhook:
		return Webhook(n)
	}
	return nil, fmt.Errorf("unknown notification type %q", t.Type)
}

// post makes one attempt. On failure, retryAfter is what the endpoint asked to wait (0 when
// it did not say), or -1 when trying again cannot help (a 4xx other than 429).
func (d *Dispatcher) post(ctx context.Context, t Target, body []byte) (retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, cmpDuration(t.Timeout, defaultTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return -1, errors.New("the provider's URL is not valid") // the URL itself stays out
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.HTTP.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // url.Error quotes the URL, which holds the secret
		}
		return 0, fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After"), d.Now()), fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return -1, fmt.Errorf("the endpoint refused the message: %s", resp.Status)
}

func cmpDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date. 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
