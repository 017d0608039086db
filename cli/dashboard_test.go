package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
)

// TestDashboardPageMidStep: the page of a Rollout mid-step, as the dashboard sends it,
// after it saw the rollout move from 5% to 50% and two analysis runs.
func TestDashboardPageMidStep(t *testing.T) {
	ro := midStep()
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", Type: trancheapi.WebhookRollout, URL: "http://smoke"}}
	var seen cli.History
	first := ro.DeepCopy()
	first.Status.CanaryWeight, first.Status.CurrentStep, first.Status.LastChecks = 5, 0, first.Status.LastChecks[2:]
	seen.Observe(first, now.Add(-time.Minute))
	seen.Observe(ro, now.Add(-30*time.Second))
	seen.Observe(ro, now) // nothing new

	page := cli.PageOf(cli.View{Rollout: ro, Events: []eventsv1.Event{
		event(2*time.Minute, "Normal", "StepCompleted", "Step 1/3 passed"),
	}}, seen, now)
	data, err := json.MarshalIndent(page, "", "  ")
	require.NoError(t, err)
	golden(t, "dashboard-page.golden.json", string(data)+"\n")
}

func TestHistoryKeepsEachCheckOnceAndEachWeightChange(t *testing.T) {
	ro := midStep()
	var h cli.History
	h.Observe(ro, now)
	h.Observe(ro, now.Add(time.Second))
	require.Len(t, h.Checks["latency-p99"], 2, "two runs, each once")
	assert.Equal(t, "210", h.Checks["latency-p99"][0].Text, "oldest first")
	assert.Equal(t, ptr.To(612.0), h.Checks["latency-p99"][1].Value)
	assert.Len(t, h.Traffic, 1, "the weight did not change")

	ro.Status.CanaryWeight = 100
	ro.Status.LastChecks = append([]trancheapi.CheckResult{
		{Metric: trancheapi.TrafficCheckName, Value: "97.5", Verdict: trancheapi.VerdictPass, At: agoExact(0)},
	}, ro.Status.LastChecks...)
	h.Observe(ro, now.Add(2*time.Second))
	require.Len(t, h.Traffic, 2)
	assert.Equal(t, int32(100), h.Traffic[1].Weight)
	assert.Equal(t, ptr.To(97.5), h.Traffic[1].Share, "the measured share beside the weight")
}

// TestDashboardAnswersItsOwnPageOnly sends what other pages' browsers would send.
func TestDashboardAnswersItsOwnPageOnly(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(30, 0, true), step(100, 0, false))
	url := startDashboard(t, cli.DashboardOptions{})
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	_, port, _ := net.SplitHostPort(host)

	send := func(method, path string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	status, page := send("GET", "", nil)
	require.Equal(t, http.StatusOK, status)
	token := regexp.MustCompile(`name="tranche-token" content="([0-9a-f]{64})"`).FindStringSubmatch(page)
	require.NotNil(t, token, "the page holds the token")

	promote := "api/rollouts/" + key.Namespace + "/" + key.Name + "/promote"
	own := "http://" + host
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		status             int
		says               string
	}{
		{"a name that resolves to 127.0.0.1 (DNS rebinding)", "GET", "api/rollouts", map[string]string{"Host": "attacker.example:" + port}, http.StatusMisdirectedRequest, "answers on 127.0.0.1:" + port + " only"},
		{"a read from another origin", "GET", "api/rollouts", map[string]string{"Origin": "http://attacker.example"}, http.StatusForbidden, "requests from http://attacker.example are refused"},
		{"a read from another port of 127.0.0.1", "GET", "api/rollouts", map[string]string{"Origin": "http://127.0.0.1:1"}, http.StatusForbidden, "are refused"},
		{"a read a browser marks cross-site", "GET", "api/rollouts", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "other sites are refused"},
		{"an action without the token", "POST", promote, map[string]string{"Origin": own}, http.StatusForbidden, "does not carry the dashboard page's token"},
		{"an action with another token", "POST", promote, map[string]string{"Origin": own, "X-Tranche-Token": strings.Repeat("0", 64)}, http.StatusForbidden, "token"},
		{"an action from a sandboxed page", "POST", promote, map[string]string{"Origin": "null", "X-Tranche-Token": token[1]}, http.StatusForbidden, "refused"},
		{"an unknown action", "POST", "api/rollouts/" + key.Namespace + "/" + key.Name + "/delete", map[string]string{"Origin": own, "X-Tranche-Token": token[1]}, http.StatusNotFound, `unknown action "delete"`},
		{"the page's own promote, when there is no gate", "POST", promote, map[string]string{"Origin": own, "X-Tranche-Token": token[1]}, http.StatusConflict, "not waiting for approval: nothing to promote"},
		{"the page's own read", "GET", "api/rollouts/" + key.Namespace + "/" + key.Name, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK, `"phase":"Initialized"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := send(tc.method, tc.path, tc.header)
			assert.Equal(t, tc.status, status, body)
			assert.Contains(t, body, tc.says)
		})
	}
}

func TestDashboardListensOnLoopbackOnly(t *testing.T) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer l.Close()
	d, err := cli.NewDashboard(nil, cli.DashboardOptions{})
	require.NoError(t, err)
	assert.ErrorContains(t, d.Serve(context.Background(), l), "listens on the loopback interface only")
}
