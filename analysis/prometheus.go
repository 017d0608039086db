package analysis

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// DefaultPrometheusTimeout bounds a query when PrometheusConfig.Timeout is zero; it is the
// default of a MetricTemplate's prometheus.timeout.
const DefaultPrometheusTimeout = 5 * time.Second

// PrometheusConfig says how to reach one Prometheus server. Credentials are plain values: the
// controller reads them from the MetricTemplate's Secret, so this package never needs a
// Kubernetes client.
type PrometheusConfig struct {
	// Address is the server's base URL, such as http://prometheus.monitoring:9090. It must not
	// carry credentials: a URL ends up in error messages.
	Address string
	// Timeout bounds each query, both on the wire and in Prometheus' evaluation. Zero means
	// DefaultPrometheusTimeout.
	Timeout time.Duration
	// BearerToken is sent as "Authorization: Bearer <token>", as by a proxy in front of
	// Prometheus that checks tokens.
	BearerToken string
	// Username and Password are sent as basic auth, as Prometheus' --web.config.file checks.
	Username, Password string
	// InsecureSkipVerify accepts any TLS certificate from the server.
	InsecureSkipVerify bool
}

// TemplateConfig is how to reach the Prometheus of a MetricTemplate: its address, else
// fallback, with its timeout and TLS setting. Its credentials live in a Secret, which the
// caller reads and gives to WithCredentials.
func TemplateConfig(p *trancheapi.PrometheusSource, fallback string) PrometheusConfig {
	cfg := PrometheusConfig{Address: fallback}
	if p == nil {
		return cfg
	}
	if p.Address != "" {
		cfg.Address = p.Address
	}
	if p.Timeout != nil {
		cfg.Timeout = p.Timeout.Duration
	}
	cfg.InsecureSkipVerify = p.InsecureSkipVerify
	return cfg
}

// WithCredentials is cfg with the credentials of a MetricTemplate's Secret: its token, or
// its username and password.
func (cfg PrometheusConfig) WithCredentials(secret map[string][]byte) PrometheusConfig {
	cfg.BearerToken = string(secret["token"])
	cfg.Username, cfg.Password = string(secret["username"]), string(secret["password"])
	return cfg
}

// Prometheus is a Querier that sends instant queries to a Prometheus server. It is safe for
// concurrent use.
type Prometheus struct {
	api     promv1.API
	timeout time.Duration
	secrets []string
}

var _ Querier = (*Prometheus)(nil)

// NewPrometheus checks cfg and returns a client for the server it names. It does not contact
// the server: an unreachable one shows up as a query error.
func NewPrometheus(cfg PrometheusConfig) (*Prometheus, error) {
	if err := checkAddress(cfg.Address); err != nil {
		return nil, err
	}
	if cfg.BearerToken != "" && (cfg.Username != "" || cfg.Password != "") {
		return nil, errors.New("prometheus: set either a bearer token or a username and password, not both")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("prometheus: negative timeout %s", cfg.Timeout)
	}
	transport := sharedTransport
	if cfg.InsecureSkipVerify {
		transport = insecureTransport
	}
	client, err := promapi.NewClient(promapi.Config{
		Address: cfg.Address,
		RoundTripper: &authTransport{
			next:     transport,
			bearer:   cfg.BearerToken,
			username: cfg.Username,
			password: cfg.Password,
		},
	})
	if err != nil {
		return nil, errors.New("prometheus: the address is not a valid URL")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultPrometheusTimeout
	}
	var secrets []string
	for _, s := range []string{cfg.BearerToken, cfg.Password} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	return &Prometheus{api: promv1.NewAPI(client), timeout: timeout, secrets: secrets}, nil
}

// The clients share two transports, one for each TLS setting, and so their connections: a
// transport of its own for each client (one per query) would leave a connection open per
// query until it idled out, and Prometheus accepts no more than --web.max-connections (512
// by default); past that, every query waits.
var (
	sharedTransport   = newTransport(false)
	insecureTransport = newTransport(true)
)

// idleConnsPerServer is how many connections to one Prometheus stay open between queries:
// about as many as the reconciler's workers.
const idleConnsPerServer = 16

func newTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idleConnsPerServer
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it in the MetricTemplate.
	}
	return t
}

// checkAddress refuses what would fail on every query, without echoing the address: a user
// who put a password in it should not find the password in the Rollout's status.
func checkAddress(address string) error {
	u, err := url.Parse(address)
	switch {
	case err != nil:
		return errors.New("prometheus: the address is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("prometheus: the address must be an http or https URL")
	case u.Host == "":
		return errors.New("prometheus: the address has no host")
	case u.User != nil:
		return errors.New("prometheus: the address must not hold credentials: give them as a username and password or a token")
	}
	return nil
}

// Query evaluates query at time at (now when at is zero). See Querier for the results.
func (p *Prometheus) Query(ctx context.Context, query string, at time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	// Warnings (such as a partial answer from a federated server) are not errors: the value
	// is still the best one there is, and the judge sees NaN when there is none.
	v, _, err := p.api.Query(ctx, query, at, promv1.WithTimeout(p.timeout))
	if err != nil {
		return 0, p.redact(fmt.Errorf("prometheus query: %w", err))
	}
	return single(v)
}

// Values are one query's answers at the times of a range query, by time in Unix
// milliseconds: at each time, what Query would have returned then.
type Values map[int64]Answer

// Answer is one number, or why there is none.
type Answer struct {
	Value float64
	Err   error
}

// At is the answer at time t: ErrNoData when no series had a value then.
func (v Values) At(t time.Time) (float64, error) {
	a, ok := v[t.UnixMilli()]
	if !ok {
		return 0, ErrNoData
	}
	return a.Value, a.Err
}

// maxRangePoints is the most points Prometheus returns for one series of a range query.
const maxRangePoints = 11000

// QueryRange evaluates query at start, start+step, ... up to end, in one request.
func (p *Prometheus) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Values, error) {
	if step <= 0 || end.Before(start) || end.Sub(start)/step >= maxRangePoints {
		return Values{}, fmt.Errorf("prometheus range query: %s to %s by %s is not a range Prometheus answers", start, end, step)
	}
	// Prometheus takes times to the millisecond, rounding: sent whole, the range's times are
	// those Values.At is asked about (start + k·step, to the millisecond).
	start, end = start.Truncate(time.Millisecond), end.Truncate(time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, _, err := p.api.QueryRange(ctx, query, promv1.Range{Start: start, End: end, Step: step}, promv1.WithTimeout(p.timeout))
	if err != nil {
		return Values{}, p.redact(fmt.Errorf("prometheus query: %w", err))
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return Values{}, fmt.Errorf("prometheus range query returned a %s, not series", v.Type())
	}
	at := map[int64]model.Vector{}
	for _, series := range m {
		for _, point := range series.Values {
			at[int64(point.Timestamp)] = append(at[int64(point.Timestamp)], &model.Sample{Metric: series.Metric, Value: point.Value})
		}
		for _, point := range series.Histograms {
			at[int64(point.Timestamp)] = append(at[int64(point.Timestamp)], &model.Sample{Metric: series.Metric, Histogram: point.Histogram})
		}
	}
	values := Values{}
	for ms, vector := range at {
		v, err := single(vector)
		values[ms] = Answer{Value: v, Err: err}
	}
	return values, nil
}

// single reduces a query result to the one number a judge compares.
func single(v model.Value) (float64, error) {
	switch r := v.(type) {
	case *model.Scalar:
		return float64(r.Value), nil
	case model.Vector:
		switch {
		case len(r) == 0:
			return 0, ErrNoData
		case len(r) > 1:
			return 0, fmt.Errorf("prometheus query returned %d series, not one: aggregate them into one, for example with sum(...) or avg(...)", len(r))
		case r[0].Histogram != nil:
			return 0, errors.New("prometheus query returned a native histogram, not a number: reduce it, for example with histogram_quantile(...)")
		}
		return float64(r[0].Value), nil
	case model.Matrix:
		return 0, errors.New("prometheus query returned a range vector, not a number: wrap the range in a function such as rate(...) or avg_over_time(...)")
	case nil:
		return 0, ErrNoData
	default:
		return 0, fmt.Errorf("prometheus query returned a %s, not a number", v.Type())
	}
}

// redact removes the credentials from an error. The client library does not put them in its
// errors, but a proxy's answer can echo a request's headers, and an error ends up in status,
// events and logs.
func (p *Prometheus) redact(err error) error {
	msg := err.Error()
	clean := msg
	for _, s := range p.secrets {
		clean = strings.ReplaceAll(clean, s, "<redacted>")
	}
	if clean == msg {
		return err
	}
	// Not wrapped: the original error still holds the secret.
	return errors.New(clean)
}

// authTransport adds the credentials to every request, so that the Prometheus client never
// sees them and cannot leak them.
type authTransport struct {
	next               http.RoundTripper
	bearer             string
	username, password string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.bearer == "" && t.username == "" && t.password == "" {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	req = req.Clone(req.Context())
	if t.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+t.bearer)
	} else {
		req.SetBasicAuth(t.username, t.password)
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the wrapped transport.
func (t *authTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// QueryBuckets evaluates a query that returns histogram buckets, one series per le label,
// and returns their bounds and cumulative counts in ascending order of le.
func (p *Prometheus) QueryBuckets(ctx context.Context, query string, at time.Time) (upper, cumulative []float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, _, err := p.api.Query(ctx, query, at, promv1.WithTimeout(p.timeout))
	if err != nil {
		return nil, nil, p.redact(fmt.Errorf("prometheus query: %w", err))
	}
	return buckets(v)
}

// buckets reads a vector of histogram buckets (by le).
func buckets(v model.Value) (upper, cumulative []float64, err error) {
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, nil, fmt.Errorf("prometheus query returned a %s, not buckets by le", v.Type())
	}
	if len(vec) == 0 {
		return nil, nil, ErrNoData
	}
	type bucket struct{ le, count float64 }
	var bs []bucket
	for _, s := range vec {
		le, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("prometheus query returned a series without an le label (%s): sum the buckets by (le)", s.Metric)
		}
		bs = append(bs, bucket{le, float64(s.Value)})
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	for _, b := range bs {
		upper, cumulative = append(upper, b.le), append(cumulative, b.count)
	}
	return upper, cumulative, nil
}
