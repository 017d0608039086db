package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The credentials a Prometheus started with PrometheusOptions.BasicAuth requires. Fixed, so
// that the harness needs no bcrypt library: promPasswordHash is PrometheusPassword hashed
// with bcrypt (cost 10).
const (
	PrometheusUsername = "tranche"
	PrometheusPassword = "tranche-test-password"
	promPasswordHash   = "$2a$10$hBA9nqPcPLhk732us3ga3O4./e2K4RpQ9iE3nDR2zRkyLoikzUwRW"
)

// PrometheusOptions change how a test Prometheus is started.
type PrometheusOptions struct {
	// Targets are host:port addresses whose /metrics are scraped, as job "tranche-test".
	Targets []string
	// ScrapeInterval and EvaluationInterval default to 1s. Whatever they are, Debian's 2.42
	// scrapes a new target for the first time only about 5 s after it starts.
	ScrapeInterval, EvaluationInterval time.Duration
	// TargetsFile, when set, is a file of more targets, in Prometheus's file_sd format,
	// scraped as job "pods" and read again whenever it changes (PodTargets writes one).
	TargetsFile string
	// BasicAuth makes the server require PrometheusUsername and PrometheusPassword on every
	// request, through its --web.config.file.
	BasicAuth bool
}

// Prometheus is a real Prometheus server running as a plain process on 127.0.0.1, with its
// configuration and data in a temporary folder. Kill, Restart and Stop are for one goroutine
// at a time; URL and WaitForSeries may be called from any.
type Prometheus struct {
	dir  string
	addr string
	auth bool
	proc *Process
}

// StartPrometheus starts the prometheus binary found on PATH (else /usr/bin/prometheus, where
// Debian's package puts it) and waits until it is ready.
func StartPrometheus(opts PrometheusOptions) (*Prometheus, error) {
	binary, err := findPrometheus()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tranche-prometheus-")
	if err != nil {
		return nil, err
	}
	p := &Prometheus{dir: dir, auth: opts.BasicAuth}
	p.proc = &Process{Name: "prometheus", Path: binary, LogFile: filepath.Join(dir, "prometheus.log"), Ready: p.ready}
	if err := p.writeConfig(opts); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// Another process may take the free port before Prometheus binds it: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		if p.addr, err = FreeAddress(); err != nil {
			break
		}
		if err = p.Restart(); err == nil {
			return p, nil
		}
	}
	_ = p.Stop()
	return nil, err
}

func findPrometheus() (string, error) {
	if path, err := exec.LookPath("prometheus"); err == nil {
		return path, nil
	}
	const debian = "/usr/bin/prometheus"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("harness: no prometheus binary on PATH or at " + debian + ": run `make prometheus` (it installs Debian's package)")
}

func (p *Prometheus) writeConfig(opts PrometheusOptions) error {
	scrape := cmp.Or(opts.ScrapeInterval, time.Second)
	var targets []string
	for _, t := range opts.Targets {
		targets = append(targets, strconv.Quote(t))
	}
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: tranche-test
    static_configs:
      - targets: [%s]
`, scrape, scrape, cmp.Or(opts.EvaluationInterval, time.Second), strings.Join(targets, ", "))
	if opts.TargetsFile != "" {
		config += fmt.Sprintf("  - job_name: pods\n    file_sd_configs:\n      - files: [%s]\n", strconv.Quote(opts.TargetsFile))
	}
	if err := os.WriteFile(filepath.Join(p.dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		return err
	}
	web := fmt.Sprintf("basic_auth_users:\n  %s: %s\n", PrometheusUsername, strconv.Quote(promPasswordHash))
	return os.WriteFile(filepath.Join(p.dir, "web.yml"), []byte(web), 0o600)
}

// FreeAddress is a 127.0.0.1 address with a port nothing listens on at the moment, for a
// server to be started on, and one this process has not handed out before: the kernel may give
// a port just closed to the next listener, and two servers of one test would then share it.
// Another process may take it first: callers retry.
func FreeAddress() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		_ = l.Close()
		if !handedOut.ports[addr] {
			handedOut.ports[addr] = true
			return addr, nil
		}
	}
}

// handedOut are the addresses FreeAddress has returned.
var handedOut = struct {
	sync.Mutex
	ports map[string]bool
}{ports: map[string]bool{}}

// URL is the server's base URL, such as http://127.0.0.1:41234. It stays the same across
// Kill and Restart.
func (p *Prometheus) URL() string {
	return "http://" + p.addr
}

// Restart starts the server again after Kill, on the same address and with the data it had
// scraped, and waits until it is ready. Rollout tests use Kill and Restart to take Prometheus
// away in the middle of a rollout and give it back.
func (p *Prometheus) Restart() error {
	p.proc.Args = []string{
		"--config.file=" + filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(p.dir, "data"),
		"--web.listen-address=" + p.addr,
		"--log.level=warn",
	}
	if p.auth {
		p.proc.Args = append(p.proc.Args, "--web.config.file="+filepath.Join(p.dir, "web.yml"))
	}
	return p.proc.Start(context.Background())
}

func (p *Prometheus) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/-/ready", nil)
	if err != nil {
		return err
	}
	return okResponse(p.do(req))
}

// Kill stops the server at once, as a crash would, keeping its address and data for Restart.
func (p *Prometheus) Kill() error {
	return p.proc.Kill()
}

// Stop kills the server and removes its configuration and data.
func (p *Prometheus) Stop() error {
	return errors.Join(p.Kill(), os.RemoveAll(p.dir))
}

// do sends a request with the credentials the server requires.
func (p *Prometheus) do(req *http.Request) (*http.Response, error) {
	if p.auth {
		req.SetBasicAuth(PrometheusUsername, PrometheusPassword)
	}
	return http.DefaultClient.Do(req)
}

// WaitForSeries polls query until it returns data, or ctx ends. Tests call it before they
// query what an exporter served: Debian's Prometheus 2.42 takes 5 to 6 s to scrape a target
// for the first time. A query that Prometheus refuses fails at once.
func (p *Prometheus) WaitForSeries(ctx context.Context, query string) error {
	for {
		n, err := p.countResults(ctx, query)
		var refused *queryRefusedError
		switch {
		case errors.As(err, &refused):
			return err
		case err == nil && n > 0:
			return nil
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("harness: no data for %s yet: %w (last answer: %d results, error %v)", query, ctx.Err(), n, err)
		case <-t.C:
		}
	}
}

type queryRefusedError struct{ msg string }

func (e *queryRefusedError) Error() string { return "harness: prometheus refused the query: " + e.msg }

// countResults runs an instant query and counts the series (or scalars) it returned.
func (p *Prometheus) countResults(ctx context.Context, query string) (int, error) {
	form := url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/api/v1/query", strings.NewReader(form))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return 0, fmt.Errorf("harness: %s from /api/v1/query: %w", resp.Status, err)
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity:
		return 0, &queryRefusedError{msg: answer.Error}
	case answer.Status != "success":
		return 0, fmt.Errorf("harness: %s from /api/v1/query: %s", resp.Status, answer.Error)
	case answer.Data.ResultType == "scalar" || answer.Data.ResultType == "string":
		return 1, nil
	}
	var series []json.RawMessage
	err = json.Unmarshal(answer.Data.Result, &series)
	return len(series), err
}

// LabelValues are the values of label among the series match selects, as Grafana's
// label_values(match, label) lists them for a dashboard variable.
func (p *Prometheus) LabelValues(ctx context.Context, label, match string) ([]string, error) {
	u := p.URL() + "/api/v1/label/" + url.PathEscape(label) + "/values?" + url.Values{"match[]": {match}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return nil, fmt.Errorf("harness: %s from %s: %w", resp.Status, u, err)
	}
	if answer.Status != "success" {
		return nil, fmt.Errorf("harness: %s from %s: %s", resp.Status, u, answer.Error)
	}
	return answer.Data, nil
}
