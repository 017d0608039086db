package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// webhookInbox keeps the titles of the webhook messages it gets, answering status.
type webhookInbox struct {
	status int
	mu     sync.Mutex
	titles []string
}

func (w *webhookInbox) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct{ Title string }
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &msg) != nil {
		http.Error(rw, "not JSON", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.titles = append(w.titles, msg.Title)
	w.mu.Unlock()
	rw.WriteHeader(w.status)
}

// notificationProvider creates a Webhook NotificationProvider named hook whose Secret points
// at url, with templates.
func notificationProvider(t *testing.T, ns, url string, templates map[string]trancheapi.MessageTemplate) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		StringData: map[string]string{"address": url + "/s3cr3t"},
	}))
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.NotificationProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Spec: trancheapi.NotificationProviderSpec{
			Type: trancheapi.NotificationWebhook, SecretRef: trancheapi.LocalObjectReference{Name: "hook"}, Templates: templates,
		},
	}))
}

func TestNotifyTestSendsEachKindOfNews(t *testing.T) {
	t.Parallel()
	inbox := &webhookInbox{status: http.StatusOK}
	server := httptest.NewServer(inbox)
	defer server.Close()
	ns := cp.Namespace(t)
	notificationProvider(t, ns, server.URL, map[string]trancheapi.MessageTemplate{
		"Default": {Title: "{{ .Cluster }}: {{ .Rollout }} {{ .Title }}"},
	})

	out, err := kubectl(t, ns, "notify", "test", "hook", "--cluster", "prod-eu")
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 10, out)
	assert.Regexp(t, `^Started\s+sent$`, lines[0])
	assert.Regexp(t, `^Undone\s+sent$`, lines[6])
	assert.Regexp(t, `^DryRunFailing\s+sent$`, lines[8])
	assert.Regexp(t, `^Stalled\s+sent$`, lines[9])
	assert.Equal(t, []string{
		"prod-eu: tranche-notify-test rollout started", "prod-eu: tranche-notify-test step passed",
		"prod-eu: tranche-notify-test waits for approval", "prod-eu: tranche-notify-test promoted",
		"prod-eu: tranche-notify-test rolled back", "prod-eu: tranche-notify-test aborted",
		"prod-eu: tranche-notify-test undone",
		"prod-eu: tranche-notify-test analysis failing", "prod-eu: tranche-notify-test dry run failing",
		"prod-eu: tranche-notify-test stalled",
	}, inbox.titles, "each kind once, in order, shaped by the templates")

	out, err = kubectl(t, ns, "notify", "test", "hook", "--kind", "Promoted,Deployed")
	assert.ErrorContains(t, err, `--kind "Deployed" is no kind of news: use Started, StepReached`)
	assert.Empty(t, out)
}

func TestNotifyTestSaysWhatWentWrong(t *testing.T) {
	t.Parallel()
	inbox := &webhookInbox{status: http.StatusNotFound}
	server := httptest.NewServer(inbox)
	defer server.Close()
	ns := cp.Namespace(t)
	notificationProvider(t, ns, server.URL, map[string]trancheapi.MessageTemplate{"Promoted": {Text: "{{ .Revision }}"}})

	out, err := kubectl(t, ns, "notify", "test", "hook", "--kind", "Started", "--kind", "Promoted")
	assert.ErrorContains(t, err, "2 of 2 messages to NotificationProvider hook were not delivered")
	assert.Contains(t, out, "Started          not delivered: the endpoint refused the message: 404 Not Found")
	assert.Contains(t, out, "Promoted         not delivered: the endpoint refused the message: 404 Not Found")
	assert.NotContains(t, out, "s3cr3t", "the URL is a secret")

	inbox.status = http.StatusOK
	out, err = kubectl(t, ns, "notify", "test", "hook", "--kind", "Promoted")
	require.NoError(t, err, "delivered, with Tranche's own words")
	assert.Contains(t, out, "Promoted         sent with Tranche's own words where a template failed: templates.Promoted.text, for news Promoted")

	_, err = kubectl(t, ns, "notify", "test", "missing")
	assert.ErrorContains(t, err, `reading NotificationProvider `+ns+`/missing`)
}
