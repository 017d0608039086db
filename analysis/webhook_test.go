package analysis_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/analysis"
)

// webhookServer answers with code and body and records the requests it got.
func webhookServer(t *testing.T, code int, body string) (*httptest.Server, <-chan *http.Request, <-chan []byte) {
	t.Helper()
	requests, bodies := make(chan *http.Request, 1), make(chan []byte, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		requests <- r
		bodies <- data
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(server.Close)
	return server, requests, bodies
}

func TestCallWebhookPayload(t *testing.T) {
	server, requests, bodies := webhookServer(t, http.StatusOK, "ok")
	p := analysis.Payload{
		Name: "podinfo", Namespace: "shop", Phase: "Progressing", Revision: "7b9c1e",
		Type: "ConfirmPromotion", Message: "step 2 of 3", Metadata: map[string]string{"cmd": "hey -z 1m"},
	}
	require.NoError(t, analysis.CallWebhook(context.Background(), server.Client(), server.URL+"/gate", time.Second, p))

	r := <-requests
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/gate", r.URL.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var got map[string]any
	require.NoError(t, json.Unmarshal(<-bodies, &got))
	assert.Equal(t, "podinfo", got["name"])
	assert.Equal(t, "shop", got["namespace"])
	assert.Equal(t, "Progressing", got["phase"])
	assert.Equal(t, "7b9c1e", got["revision"])
	assert.Equal(t, "ConfirmPromotion", got["type"])
	assert.Equal(t, "step 2 of 3", got["message"])
	assert.Equal(t, map[string]any{"cmd": "hey -z 1m"}, got["metadata"])
	assert.Len(t, got, 7)
}

func TestCallWebhookAnswers(t *testing.T) {
	for _, code := range []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent} {
		server, _, _ := webhookServer(t, code, "")
		assert.NoError(t, analysis.CallWebhook(context.Background(), nil, server.URL, time.Second, analysis.Payload{}), code)
	}

	server, _, _ := webhookServer(t, http.StatusInternalServerError, "load test failed:\n"+strings.Repeat("x", 500))
	err := analysis.CallWebhook(context.Background(), server.Client(), server.URL, time.Second, analysis.Payload{})
	require.Error(t, err)
	var refused *analysis.WebhookError
	require.True(t, errors.As(err, &refused))
	assert.Equal(t, http.StatusInternalServerError, refused.StatusCode)
	assert.Contains(t, err.Error(), "500")
	assert.Contains(t, err.Error(), "load test failed: xxx")
	assert.LessOrEqual(t, len(refused.Body), 200)

	server, _, _ = webhookServer(t, http.StatusForbidden, "")
	assert.EqualError(t, analysis.CallWebhook(context.Background(), nil, server.URL, time.Second, analysis.Payload{}), "webhook answered 403 Forbidden")
}

func TestCallWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer server.Close()
	defer close(release)

	start := time.Now()
	err := analysis.CallWebhook(context.Background(), server.Client(), server.URL, 200*time.Millisecond, analysis.Payload{})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
}

func TestCallWebhookOddURLs(t *testing.T) {
	for _, url := range []string{"", "::", "http://[::1", "ftp://example.com/", "http://", "/relative", "http://127.0.0.1:1/", "http://%zz"} {
		assert.NotPanics(t, func() {
			assert.Error(t, analysis.CallWebhook(context.Background(), nil, url, time.Second, analysis.Payload{}), url)
		})
	}
}
