package cli_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
)

// The dashboard is tested in headless Chromium (Debian's package; `make chromium` installs
// it), against the test API server with the controller running.

// startDashboard serves a dashboard until the test ends and returns its address.
func startDashboard(t *testing.T, opts cli.DashboardOptions) string {
	t.Helper()
	c, err := client.NewWithWatch(cp.Config, client.Options{Scheme: cli.Scheme()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d, err := cli.NewDashboard(c, opts)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	return "http://" + l.Addr().String() + "/"
}

// browser starts a headless Chromium for the test and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		path, err = exec.LookPath("chromium")
		require.NoError(t, err, "no chromium: run `make chromium` (it installs Debian's chromium package), or set CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		// This machine's network is closed: Chromium's own connections would only fail.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	allocator, cancelAllocator := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocator)
	t.Cleanup(func() { cancelTab(); cancelAllocator() })
	require.NoError(t, chromedp.Do(tab), "starting %s", path) // the first call starts the browser: no timeout on it
	return tab
}

// browserWait is how long an action in the browser may take, waits included.
const browserWait = time.Minute

// run runs browser actions, failing the test with what it was doing.
func run(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...), what)
}

// eval evaluates a JavaScript expression in the page, awaiting it if it is a promise.
func eval[T any](t *testing.T, tab context.Context, what, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(t, err, what)
	return v
}

// css names the first element a CSS selector matches.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitText waits until the text of the element sel names matches ok.
func waitText(t *testing.T, tab context.Context, what, sel string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	var text string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, 2*time.Second)
		read, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		cancel()
		if err == nil {
			text = read
		}
		if err == nil && ok(text) {
			return text
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the page never showed %s: %s reads %q", what, sel, text)
	return ""
}

func contains(part string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, part) }
}

// fetchStatus sends a request from the page's own script and returns the status code, or
// 0 when the browser refused to send it or to let the page see the answer.
func fetchStatus(t *testing.T, tab context.Context, url string, init string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, %s).then(r => r.type === "opaque" ? 0 : r.status, () => 0)`, url, init)
	return eval[int](t, tab, "fetching "+url, js)
}

// hookServer answers every webhook call with 200.
func hookServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDashboardFollowsARolloutAndPromotesIt: the list shows the Rollouts of every namespace
// and filters them; a Rollout's page follows it step by step without being loaded again;
// promote pressed in the page passes the manual gate. It writes dashboard.png, the page
// waiting at its gate.
func TestDashboardFollowsARolloutAndPromotesIt(t *testing.T) {
	t.Parallel()
	hook := hookServer(t)
	key := deployWith(t, cp.Namespace(t), func(spec *trancheapi.RolloutSpec) {
		spec.Steps = []trancheapi.Step{step(20, 3*time.Second, false), step(60, 0, true), step(100, 0, false)}
		spec.Analysis = &trancheapi.Analysis{
			Interval: &metav1.Duration{Duration: time.Second},
			Webhooks: []trancheapi.Webhook{{Name: "smoke-test", Type: trancheapi.WebhookRollout, URL: hook}},
		}
	})
	other := deployWith(t, cp.Namespace(t), func(spec *trancheapi.RolloutSpec) {
		spec.Steps = []trancheapi.Step{step(50, 0, true)}
		spec.Group = &trancheapi.Group{Name: "nightly"}
	})
	url := startDashboard(t, cli.DashboardOptions{})
	tab := browser(t)

	row := func(key types.NamespacedName) string {
		return fmt.Sprintf(`tr[data-rollout="%s/%s"]`, key.Namespace, key.Name)
	}
	run(t, tab, "opening the list", chromedp.Navigate(url), chromedp.WaitVisible(css(row(key))), chromedp.WaitVisible(css(row(other))))
	waitText(t, tab, "the phase in the list", row(key)+" .phase", contains("Initialized"))
	run(t, tab, "filtering", chromedp.SendKeys(css("#filter"), other.Namespace), chromedp.WaitNotPresent(css(row(key))), chromedp.WaitVisible(css(row(other))))
	waitText(t, tab, "the count", "#count", contains("1 of "))
	run(t, tab, "clearing the filter", chromedp.SendKeys(css("#filter"), strings.Repeat("\b", len(other.Namespace))), chromedp.WaitVisible(css(row(key))))
	// A group is one view: its name filters its members in.
	waitText(t, tab, "the group in the list", row(other)+" td:nth-child(3)", contains("nightly"))
	run(t, tab, "filtering by group", chromedp.SendKeys(css("#filter"), "nightly"), chromedp.WaitNotPresent(css(row(key))), chromedp.WaitVisible(css(row(other))))
	run(t, tab, "clearing the filter", chromedp.SendKeys(css("#filter"), strings.Repeat("\b", len("nightly"))), chromedp.WaitVisible(css(row(key))))
	// And a member's page lists its group's members.
	run(t, tab, "opening a member's page", chromedp.Navigate(fmt.Sprintf("%s#/%s/%s", url, other.Namespace, other.Name)), chromedp.WaitVisible(css("#group")))
	waitText(t, tab, "the member in its group", "#group "+row(other), contains(other.Name))
	waitText(t, tab, "the member's phase in its group", "#group "+row(other)+" .phase", contains("Initialized"))
	run(t, tab, "back to the list", chromedp.Navigate(url+"#/"), chromedp.WaitVisible(css(row(key))))

	// The list is drawn again at every update, so a node found for a click may be gone when the
	// click lands: the click is made in the page, in one go.
	run(t, tab, "opening the rollout's page", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, row(key)+" a")),
		chromedp.WaitVisible(css("#rollout")),
		chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true`))
	waitText(t, tab, "the phase", "#phase", contains("Initialized"))

	release(t, key, "app:2")
	waitText(t, tab, "the first step", `#steps li[data-step="1"]`, contains("20%"))
	waitText(t, tab, "the canary's weight at the gate", "#weight", contains("canary 60%"))
	waitText(t, tab, "the gate", "#phase", contains("WaitingApproval"))
	waitText(t, tab, "the webhook's checks", `[data-metric="smoke-test"] .badge`, contains("Pass"))
	assert.Equal(t, "current", eval[string](t, tab, "reading the steps", `document.querySelector('#steps li[data-step="2"]').className`),
		"the step at the gate is the current one")

	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err, "taking the screenshot")
	shot := moduleFile(t, "e2e-report", "dashboard.png")
	require.NoError(t, os.MkdirAll(moduleFile(t, "e2e-report"), 0o755))
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("wrote %s", shot)

	run(t, tab, "pressing promote", chromedp.Click(css(`button[data-action="promote"]`)))
	waitText(t, tab, "what the controller made of it", "#notice", contains("rollout app is"))
	waitText(t, tab, "the promotion", "#phase", contains("Succeeded"))
	assert.True(t, eval[bool](t, tab, "asking whether the page was loaded again", `window.loadedOnce === true`),
		"the page followed the rollout without being loaded again")

	ro := waitFor(t, key, "promotion", inPhase(trancheapi.PhaseSucceeded))
	assert.NotEmpty(t, ro.Status.HandledRequests.Promote, "the controller handled the page's promote")
}

// TestDashboardReadOnlyRefusesEveryAction: no button, and a request sent anyway from the
// page itself, with its token, is refused.
func TestDashboardReadOnlyRefusesEveryAction(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(30, 0, true), step(100, 0, false))
	release(t, key, "app:2")
	waitFor(t, key, "the gate", inPhase(trancheapi.PhaseWaitingApproval))
	url := startDashboard(t, cli.DashboardOptions{Namespaces: []string{key.Namespace}, ReadOnly: true})
	tab := browser(t)

	run(t, tab, "opening the page", chromedp.Navigate(url+"#/"+key.Namespace+"/"+key.Name), chromedp.WaitVisible(css("#rollout")))
	waitText(t, tab, "the gate", "#phase", contains("WaitingApproval"))
	waitText(t, tab, "that it is read-only", "#read-only", contains("Read-only"))
	assert.Zero(t, eval[int](t, tab, "counting buttons", `document.querySelectorAll("button").length`), "a read-only page shows no button")

	promote := url + "api/rollouts/" + key.Namespace + "/" + key.Name + "/promote"
	status := fetchStatus(t, tab, promote, `{method: "POST", headers: {"X-Tranche-Token": document.querySelector('meta[name="tranche-token"]').content}}`)
	assert.Equal(t, http.StatusForbidden, status)
	ro := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(context.Background(), key, ro))
	assert.NotContains(t, ro.Annotations, trancheapi.AnnotationPromote, "no request was written")
	assert.Equal(t, trancheapi.PhaseWaitingApproval, ro.Status.Phase)
}

// TestDashboardRefusesOtherPages: a page of another origin open in the same browser cannot
// act through the dashboard, by script or by form, nor read what it shows.
func TestDashboardRefusesOtherPages(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(30, 0, true), step(100, 0, false))
	release(t, key, "app:2")
	waitFor(t, key, "the gate", inPhase(trancheapi.PhaseWaitingApproval))
	url := startDashboard(t, cli.DashboardOptions{})
	promote := url + "api/rollouts/" + key.Namespace + "/" + key.Name + "/promote"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s"><input name="x" value="1"></form>`, promote)
	}))
	t.Cleanup(other.Close)
	tab := browser(t)

	run(t, tab, "opening the other page", chromedp.Navigate(other.URL), chromedp.WaitReady(css("#f")))
	assert.Zero(t, fetchStatus(t, tab, url+"api/rollouts", `{}`), "the other page reads nothing")
	assert.Zero(t, fetchStatus(t, tab, promote, `{method: "POST", mode: "no-cors"}`), "a simple request's answer is opaque")
	assert.Zero(t, fetchStatus(t, tab, promote, `{method: "POST", headers: {"X-Tranche-Token": "guess"}}`), "the preflight fails")
	run(t, tab, "submitting the form", chromedp.Submit(css("#f")))
	waitText(t, tab, "the dashboard's refusal", "body", contains("only the dashboard's own page may"))

	ro := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(context.Background(), key, ro))
	assert.NotContains(t, ro.Annotations, trancheapi.AnnotationPromote, "no request was written")
	assert.Equal(t, trancheapi.PhaseWaitingApproval, ro.Status.Phase)
}
