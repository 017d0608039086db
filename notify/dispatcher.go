package notify

import (
	"bytes"
	"cmp"
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
	// Templates shape the messages; TemplateErr says why some did not parse (those are
	// not used).
	Templates   Templates
	TemplateErr error
}

// ErrOwnWords says that a message went out with Tranche's own words where a provider's
// template failed.
var ErrOwnWords = errors.New("sent with Tranche's own words where a template failed")

// Message is the body a target gets for the news, shaped by its templates; a template that
// fails leaves the default words, and the error, wrapping ErrOwnWords, says so (the body is
// good either way).
func Message(t Target, n News) (body []byte, templateErr error) {
	shaped, err := t.Templates.Apply(n)
	if err = errors.Join(t.TemplateErr, err); err != nil {
		err = fmt.Errorf("%w: %w", ErrOwnWords, err)
	}
	body, perr := Payload(t, shaped)
	if perr != nil {
		return nil, perr
	}
	return body, err
}

// Resolver reads a NotificationProvider and its Secret.
type Resolver func(ctx context.Context, provider types.NamespacedName) (Target, error)

// Delivery settings. A delivery is tried at most maxAttempts times; between attempts it
// waits what Retry-After says (giving up when that is over maxRetryAfter) or else backs off
// exponentially from firstBackoff. No worker waits meanwhile.
const (
	defaultQueue       = 256
	defaultWorkers     = 4
	defaultPerProvider = 2 // deliveries to one provider under way at once
	maxAttempts        = 4
	firstBackoff       = time.Second
	maxRetryAfter      = time.Minute
	defaultTimeout     = 10 * time.Second
	busyRecheck        = 100 * time.Millisecond // how soon news for a busy provider is looked at again
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

// WebhookCalls counts the calls of Rollouts' notification webhooks by Rollout (namespace,
// name), webhook and result.
var WebhookCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "tranche_webhook_calls_total",
	Help: "Calls of Rollouts' notification webhooks (PostRollout, Rollback, Event) by Rollout, webhook and result: sent, failed, queue_full.",
}, []string{"namespace", "name", "webhook", "result"})

// Endpoint is a webhook a Rollout's spec names, to be POSTed a body as it is.
type Endpoint struct {
	Namespace, Rollout, Webhook string
	URL                         string // never logged
	Timeout                     time.Duration
}

// Dispatcher delivers news in the background: Send never blocks. Run starts the workers.
// Each Rollout's news to a provider is delivered in order, one at a time; a provider gets
// at most PerProvider workers, so one that hangs cannot hold up the others; a delivery
// waiting to be retried holds no worker.
type Dispatcher struct {
	Resolve     Resolver
	HTTP        *http.Client // nil: a client of its own
	Queue       int          // deliveries waiting, over all Rollouts, before new ones are dropped; 0: 256
	Workers     int          // deliveries under way at once; 0: 4
	PerProvider int          // of those, to one provider; 0: 2
	Now         func() time.Time
	// After runs f after d; nil: time.AfterFunc. Tests make it record and run at once.
	After func(d time.Duration, f func())
	// Log receives one line per failed delivery, and one per message sent with Tranche's own
	// words because a template failed, with no URL in it. nil: discarded.
	Log func(provider types.NamespacedName, err error)

	once     sync.Once
	ready    chan string // keys with news due and no worker on them
	mu       sync.Mutex
	pending  map[string][]*delivery // by key (provider and Rollout), oldest first
	waiting  int                    // deliveries in pending
	inFlight map[types.NamespacedName]int
	limits   limiter
}

type delivery struct {
	key      string // provider and Rollout
	newsKey  string // what makes two pieces of news the same
	provider types.NamespacedName
	news     News
	attempt  int // attempts made
	// direct, when set, is a body for a known endpoint (a Rollout's webhook): it is posted
	// as it is, with no provider to resolve and no news to format.
	direct *directPost
}

type directPost struct {
	endpoint Endpoint
	body     []byte
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.ready = make(chan string, cmp.Or(d.Queue, defaultQueue)) // never more keys than deliveries
		d.pending = map[string][]*delivery{}
		d.inFlight = map[types.NamespacedName]int{}
		d.limits.state = map[string]*rolloutState{}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.HTTP == nil {
			d.HTTP = &http.Client{}
		}
		if d.After == nil {
			d.After = func(wait time.Duration, f func()) { time.AfterFunc(wait, f) }
		}
	})
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	var wg sync.WaitGroup
	for range cmp.Or(d.Workers, defaultWorkers) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case key := <-d.ready:
					d.work(ctx, key)
				}
			}
		})
	}
	wg.Wait()
}

// Send queues news for a provider unless the queue is full, the same news went there
// lately, or the Rollout has sent too much; each of these is counted, none waits.
func (d *Dispatcher) Send(provider types.NamespacedName, n News) {
	d.init()
	job := &delivery{
		key:      provider.String() + "|" + n.Namespace + "/" + n.Rollout,
		newsKey:  string(n.Kind) + "|" + n.Canary + "|" + n.Attempt + "|" + n.Message,
		provider: provider, news: n,
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting >= cap(d.ready) {
		Notifications.WithLabelValues(provider.String(), ResultQueueFull).Inc()
		return
	}
	if result := d.limits.admit(job.key, job.newsKey, d.Now()); result != "" {
		Notifications.WithLabelValues(provider.String(), result).Inc()
		return
	}
	d.push(job, false)
}

// Post queues a body for a Rollout's webhook: delivered in order per webhook, retried, and
// bounded by the same queue as news (a full queue drops it). Each outcome is counted in
// WebhookCalls; Log gets the failures as namespace/rollout/webhook.
func (d *Dispatcher) Post(e Endpoint, body []byte) {
	d.init()
	job := &delivery{
		key:      "webhook|" + e.Namespace + "/" + e.Rollout + "/" + e.Webhook,
		provider: types.NamespacedName{Namespace: e.Namespace, Name: e.Rollout + "/" + e.Webhook},
		direct:   &directPost{endpoint: e, body: body},
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting >= cap(d.ready) {
		job.count(ResultQueueFull)
		return
	}
	d.push(job, false)
}

// count records a delivery's outcome in its metric.
func (job *delivery) count(result string) {
	if e := job.direct; e != nil {
		WebhookCalls.WithLabelValues(e.endpoint.Namespace, e.endpoint.Rollout, e.endpoint.Webhook, result).Inc()
		return
	}
	Notifications.WithLabelValues(job.provider.String(), result).Inc()
}

// ForgetRollout drops the webhook series of a deleted Rollout.
func ForgetRollout(namespace, name string) {
	WebhookCalls.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
}

// push adds a delivery to its key's queue (at the front for a retry, which keeps the order)
// and makes the key due unless it already is, is being worked on or waits for a retry.
// d.mu is held.
func (d *Dispatcher) push(job *delivery, front bool) {
	queue, known := d.pending[job.key]
	if front {
		d.pending[job.key] = append([]*delivery{job}, queue...)
	} else {
		d.pending[job.key] = append(queue, job)
	}
	d.waiting++
	if !known {
		d.ready <- job.key // cannot block: fewer keys than deliveries, fewer deliveries than its room
	}
}

// work makes one attempt at the oldest news of a key, unless its provider is busy.
func (d *Dispatcher) work(ctx context.Context, key string) {
	d.mu.Lock()
	job := d.pending[key][0]
	if d.inFlight[job.provider] >= cmp.Or(d.PerProvider, defaultPerProvider) {
		d.mu.Unlock()
		d.After(busyRecheck, func() { d.ready <- key })
		return
	}
	d.inFlight[job.provider]++
	d.pending[key] = d.pending[key][1:]
	d.waiting--
	d.mu.Unlock()

	retryIn, err := d.attempt(ctx, job)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight[job.provider]--
	switch {
	case err == nil:
		job.count(ResultSent)
	case retryIn > 0 && ctx.Err() == nil:
		d.pending[key] = append([]*delivery{job}, d.pending[key]...)
		d.waiting++
		d.After(retryIn, func() { d.ready <- key })
		return
	default:
		job.count(ResultFailed)
		d.limits.forget(job.key, job.newsKey) // news that never arrived may be sent again
		if d.Log != nil {
			d.Log(job.provider, err)
		}
	}
	if len(d.pending[key]) == 0 {
		delete(d.pending, key)
		return
	}
	d.ready <- key
}

// attempt tries to deliver once. On failure it returns how long to wait before the next
// attempt, or 0 when there must be none.
func (d *Dispatcher) attempt(ctx context.Context, job *delivery) (time.Duration, error) {
	job.attempt++
	target, body := Target{}, []byte(nil)
	if job.direct != nil {
		e := job.direct.endpoint
		target, body = Target{Type: trancheapi.NotificationWebhook, URL: e.URL, Timeout: e.Timeout}, job.direct.body
	} else {
		var err error
		if target, err = d.Resolve(ctx, job.provider); err != nil {
			return backoff(job.attempt), err // the provider or its Secret may be created in a moment
		}
		var templateErr error
		if body, templateErr = Message(target, job.news); body == nil {
			return 0, templateErr
		}
		if templateErr != nil && d.Log != nil && job.attempt == 1 {
			d.Log(job.provider, templateErr)
		}
	}
	retryAfter, err := d.post(ctx, target, body)
	switch {
	case err == nil:
		return 0, nil
	case job.attempt >= maxAttempts:
		return 0, fmt.Errorf("after %d attempts: %w", job.attempt, err)
	case retryAfter < 0:
		return 0, err
	case retryAfter > maxRetryAfter:
		return 0, fmt.Errorf("%w, and asked to wait %s before trying again: given up", err, retryAfter)
	case retryAfter > 0:
		return retryAfter, err
	}
	return backoff(job.attempt), err
}

// SendNow delivers the news to a target once, and waits for its answer: for trying a
// provider out (`kubectl tranche notify test`), not for a rollout's news, which Send
// delivers in the background. The error says why the message was not delivered, or that it
// went out with Tranche's own words where a template failed.
func (d *Dispatcher) SendNow(ctx context.Context, t Target, n News) error {
	d.init()
	body, templateErr := Message(t, n)
	if body == nil {
		return templateErr
	}
	if _, err := d.post(ctx, t, body); err != nil {
		return err
	}
	return templateErr
}

// backoff is the wait after the given failed attempt: 1s, 2s, 4s, ...
func backoff(attempt int) time.Duration {
	return min(firstBackoff<<(attempt-1), maxRetryAfter)
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
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(t.Timeout, defaultTimeout))
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

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date. 0 when absent or
// unreadable; a day at most.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(min(s, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
